using S3Storage.Contracts.Storage;
using static S3Storage.Tests.StorageNode.ChunkTransfers;

namespace S3Storage.Tests.StorageNode;

public sealed class ScrubTests(ScrubbingStorageNodeFixture fixture) : IClassFixture<ScrubbingStorageNodeFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_scrub_finds_a_rotten_chunk_without_anyone_reading_it()
    {
        var healthy = NewChunkId();
        var rotten = NewChunkId();
        var data = RandomBytes(2 * 1024 * 1024, 21);
        await PutAsync(fixture.Node.Client, healthy, RandomBytes(1024 * 1024, 22), Cancel);
        await PutAsync(fixture.Node.Client, rotten, data, Cancel);

        FlipByteOnDisk(ChunkPath(fixture.DataDirectory, rotten), 1_500_000);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        GetStatsResponse stats;
        while ((stats = await fixture.Node.Client.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel)).CorruptChunks == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the scrub did not report the corrupt chunk within 20 s");
            await Task.Delay(200, Cancel);
        }

        Assert.Equal(1, stats.CorruptChunks);
        Assert.Equal(0, stats.BytesRead);
        var health = await fixture.Node.Client.HealthCheckAsync(new HealthCheckRequest(), cancellationToken: Cancel);
        Assert.Equal(1, health.CorruptChunks);

        // The healthy chunk is still served; the rotten one is replaced by the next put.
        Assert.Equal(1024 * 1024, (await GetAsync(fixture.Node.Client, healthy, Cancel)).Data.Length);
        Assert.False((await PutAsync(fixture.Node.Client, rotten, data, Cancel)).AlreadyPresent);
        Assert.Equal(data, (await GetAsync(fixture.Node.Client, rotten, Cancel)).Data);
        Assert.Equal(0, (await fixture.Node.Client.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel)).CorruptChunks);
    }
}
