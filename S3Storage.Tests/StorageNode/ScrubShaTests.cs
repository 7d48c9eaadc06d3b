using System.Buffers.Binary;
using System.IO.Hashing;
using Grpc.Core;
using S3Storage.Contracts.Storage;
using static S3Storage.Tests.StorageNode.ChunkTransfers;

namespace S3Storage.Tests.StorageNode;

/// <summary>
/// Client reads check each block's CRC-32 only; the SHA-256 is the scrub's. A chunk whose
/// blocks all pass their CRC-32s but whose bytes are not the ones stored must still be found.
/// Its own node (class fixture) so the corrupt count starts at zero.
/// </summary>
public sealed class ScrubShaTests(ScrubbingStorageNodeFixture fixture) : IClassFixture<ScrubbingStorageNodeFixture>
{
    private const int HeaderLength = 128;
    private const int BlockSize = 1024 * 1024;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_chunk_that_passes_every_block_CRC_but_not_its_SHA_256_is_found_by_the_scrub_and_then_refused()
    {
        var id = NewChunkId();
        var data = RandomBytes((3 * BlockSize) + 5, 31);
        await PutAsync(fixture.Node.Client, id, data, Cancel);

        // A changed byte whose block checksum was rewritten to match: only the SHA-256 can tell.
        var path = ChunkPath(fixture.DataDirectory, id);
        const int changedAt = BlockSize + 4242;
        FlipByteOnDisk(path, changedAt);
        RewriteBlockChecksum(path, data.Length, block: 1);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await fixture.Node.Client.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel)).CorruptChunks == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the scrub did not find the chunk within 20 s");
            await Task.Delay(200, Cancel);
        }

        var refused = await Assert.ThrowsAsync<RpcException>(() => GetAsync(fixture.Node.Client, id, Cancel));
        Assert.Equal(StatusCode.DataLoss, refused.StatusCode);

        // The next put of the right bytes replaces it, as repair does.
        Assert.False((await PutAsync(fixture.Node.Client, id, data, Cancel)).AlreadyPresent);
        Assert.Equal(data, (await GetAsync(fixture.Node.Client, id, Cancel)).Data);
        Assert.Equal(0, (await fixture.Node.Client.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel)).CorruptChunks);
    }

    /// <summary>Recomputes block <paramref name="block"/>'s CRC-32 from the bytes now on disk and writes it into the trailer.</summary>
    private static void RewriteBlockChecksum(string chunkPath, long dataLength, int block)
    {
        using var file = new FileStream(chunkPath, FileMode.Open, FileAccess.ReadWrite);
        var start = (long)block * BlockSize;
        var bytes = new byte[(int)Math.Min(BlockSize, dataLength - start)];
        file.Position = HeaderLength + start;
        file.ReadExactly(bytes);
        var checksum = new byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(checksum, Crc32.HashToUInt32(bytes));
        file.Position = HeaderLength + dataLength + ((long)block * sizeof(uint));
        file.Write(checksum);
    }
}
