using System.IO.Hashing;
using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using S3Storage.Contracts.Storage;
using static S3Storage.Tests.StorageNode.ChunkTransfers;

namespace S3Storage.Tests.StorageNode;

/// <summary>The node's gRPC calls against a real node process over HTTP/2.</summary>
public sealed class ChunkServiceTests(StorageNodeFixture fixture, ITestOutputHelper output) : IClassFixture<StorageNodeFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private Contracts.Storage.StorageNode.StorageNodeClient Client => fixture.Node.Client;

    [Fact]
    public async Task A_1_GiB_chunk_is_stored_and_read_back_with_the_node_memory_flat()
    {
        const long size = 1L << 30;
        var id = NewChunkId();
        var residentBefore = fixture.Node.Process.ResidentBytes();

        var (response, sha256) = await PutGeneratedAsync(Client, id, size, seed: 1, Cancel);

        Assert.Equal(id, response.ChunkId);
        Assert.Equal(size, response.Size);
        Assert.Equal(sha256, response.Sha256);
        Assert.False(response.AlreadyPresent);
        var path = ChunkPath(fixture.DataDirectory, id);
        Assert.Equal(128 + size + (4 * 1024), new FileInfo(path).Length); // header + data + one CRC per MiB
        Assert.Empty(Directory.GetFiles(Path.Combine(fixture.DataDirectory, "tmp")));

        using var call = Client.GetChunk(new GetChunkRequest { ChunkId = id }, cancellationToken: Cancel);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long received = 0;
        await foreach (var message in call.ResponseStream.ReadAllAsync(Cancel))
        {
            if (message.PayloadCase == GetChunkResponse.PayloadOneofCase.Data)
            {
                hash.AppendData(message.Data.Span);
                received += message.Data.Length;
            }
        }

        Assert.Equal(size, received);
        Assert.Equal(sha256, Convert.ToHexStringLower(hash.GetHashAndReset()));

        // The chunk streams through fixed, pooled buffers: peak memory must not grow with it.
        var peak = fixture.Node.Process.PeakResidentBytes();
        output.WriteLine($"node RSS before {residentBefore / 1048576} MiB, peak over a 1 GiB put and get {peak / 1048576} MiB");
        Assert.True(peak < 256L * 1024 * 1024, $"the node's peak RSS was {peak / 1048576} MiB for a 1 GiB chunk");
        await Client.DeleteChunkAsync(new DeleteChunkRequest { ChunkId = id }, cancellationToken: Cancel);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("not-a-uuid")]
    [InlineData("3F2504E0-4F89-41D3-9A0C-0305E82C3301")]
    [InlineData("{3f2504e0-4f89-41d3-9a0c-0305e82c3301}")]
    [InlineData("")]
    public async Task An_invalid_chunk_id_is_refused_by_every_call(string badId)
    {
        var data = RandomBytes(1000, 3);
        var put = await Assert.ThrowsAsync<RpcException>(() => PutAsync(Client, Header(badId, data.Length, Sha256(data)), data, Cancel));
        Assert.Equal(StatusCode.InvalidArgument, put.StatusCode);
        Assert.Contains("not a chunk id", put.Status.Detail);

        var get = await Assert.ThrowsAsync<RpcException>(() => GetAsync(Client, badId, Cancel));
        Assert.Equal(StatusCode.InvalidArgument, get.StatusCode);
        var delete = await Assert.ThrowsAsync<RpcException>(() => Client.DeleteChunkAsync(new DeleteChunkRequest { ChunkId = badId }, cancellationToken: Cancel).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, delete.StatusCode);
        Assert.False(File.Exists("/etc/passwd.tmp"));
    }

    [Fact]
    public async Task A_put_without_a_header_or_with_the_wrong_size_is_refused_and_leaves_nothing()
    {
        var data = RandomBytes(300_000, 4);
        var id = NewChunkId();

        using (var call = Client.PutChunk(cancellationToken: Cancel))
        {
            await call.RequestStream.WriteAsync(new PutChunkRequest { Data = ByteString.CopyFrom(data) }, Cancel);
            await call.RequestStream.CompleteAsync();
            var noHeader = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, noHeader.StatusCode);
            Assert.Contains("first message", noHeader.Status.Detail);
        }

        var tooFew = await Assert.ThrowsAsync<RpcException>(() => PutAsync(Client, Header(id, data.Length + 1, Sha256(data)), data, Cancel));
        Assert.Equal(StatusCode.InvalidArgument, tooFew.StatusCode);
        Assert.Contains($"{data.Length + 1} bytes, but {data.Length} arrived", tooFew.Status.Detail);

        var tooMany = await Assert.ThrowsAsync<RpcException>(() => PutAsync(Client, Header(id, data.Length - 1, Sha256(data)), data, Cancel));
        Assert.Equal(StatusCode.InvalidArgument, tooMany.StatusCode);

        var badHash = await Assert.ThrowsAsync<RpcException>(() => PutAsync(Client, Header(id, data.Length, "XYZ"), data, Cancel));
        Assert.Equal(StatusCode.InvalidArgument, badHash.StatusCode);

        Assert.False(File.Exists(ChunkPath(fixture.DataDirectory, id)));
        await AssertNoTempFilesAsync();
    }

    [Fact]
    public async Task A_hash_mismatch_is_data_loss_and_nothing_is_kept()
    {
        var data = RandomBytes(2_500_000, 5);
        var id = NewChunkId();
        var wrongHash = Sha256(RandomBytes(10, 6));

        var error = await Assert.ThrowsAsync<RpcException>(() => PutAsync(Client, Header(id, data.Length, wrongHash), data, Cancel));

        Assert.Equal(StatusCode.DataLoss, error.StatusCode);
        Assert.Contains(wrongHash, error.Status.Detail);
        Assert.False(File.Exists(ChunkPath(fixture.DataDirectory, id)));
        await AssertNoTempFilesAsync();
    }

    [Fact]
    public async Task A_hash_sent_in_a_trailer_after_the_data_is_verified_like_one_in_the_header()
    {
        var data = RandomBytes((2 * 1024 * 1024) + 5, 14);
        var sha256 = Sha256(data);

        var id = NewChunkId();
        var stored = await PutWithTrailerAsync(Client, id, data, trailerSha256: sha256, headerSha256: "", Cancel);
        Assert.Equal(sha256, stored.Sha256);
        Assert.False(stored.AlreadyPresent);
        var (info, read) = await GetAsync(Client, id, Cancel);
        Assert.Equal(sha256, info.Sha256);
        Assert.Equal(data, read);

        // The same bytes again: already present; other bytes under the same id: refused.
        Assert.True((await PutWithTrailerAsync(Client, id, data, sha256, "", Cancel)).AlreadyPresent);
        var other = RandomBytes(data.Length, 15);
        var conflict = await Assert.ThrowsAsync<RpcException>(() => PutWithTrailerAsync(Client, id, other, Sha256(other), "", Cancel));
        Assert.Equal(StatusCode.AlreadyExists, conflict.StatusCode);

        var wrong = NewChunkId();
        var mismatch = await Assert.ThrowsAsync<RpcException>(() => PutWithTrailerAsync(Client, wrong, data, Sha256(other), "", Cancel));
        Assert.Equal(StatusCode.DataLoss, mismatch.StatusCode);
        var none = await Assert.ThrowsAsync<RpcException>(() => PutWithTrailerAsync(Client, wrong, data, null, "", Cancel));
        Assert.Equal(StatusCode.InvalidArgument, none.StatusCode);
        Assert.Contains("Neither a SHA-256 nor an XxHash3", none.Status.Detail);
        var disagree = await Assert.ThrowsAsync<RpcException>(() => PutWithTrailerAsync(Client, wrong, data, Sha256(other), sha256, Cancel));
        Assert.Equal(StatusCode.InvalidArgument, disagree.StatusCode);
        Assert.False(File.Exists(ChunkPath(fixture.DataDirectory, wrong)));
        await AssertNoTempFilesAsync();
    }

    [Fact]
    public async Task An_XxHash3_in_the_trailer_proves_the_bytes_and_the_node_answers_the_SHA_256_it_computed()
    {
        var data = RandomBytes((2 * 1024 * 1024) + 77, 16);
        var xxHash3 = XxHash3.HashToUInt64(data);

        var id = NewChunkId();
        var stored = await PutWithTrailerAsync(Client, id, data, trailerSha256: null, headerSha256: "", Cancel, trailerXxHash3: xxHash3);
        Assert.Equal(Sha256(data), stored.Sha256);
        Assert.False(stored.AlreadyPresent);
        var (info, read) = await GetAsync(Client, id, Cancel);
        Assert.Equal(Sha256(data), info.Sha256);
        Assert.Equal(data, read);

        // One byte changed on the way: refused, and nothing is left on disk.
        var changed = (byte[])data.Clone();
        changed[1_234_567] ^= 0x20;
        var wrong = NewChunkId();
        var mismatch = await Assert.ThrowsAsync<RpcException>(() => PutWithTrailerAsync(Client, wrong, changed, null, "", Cancel, trailerXxHash3: xxHash3));
        Assert.Equal(StatusCode.DataLoss, mismatch.StatusCode);
        Assert.Contains("XxHash3", mismatch.Status.Detail);
        Assert.False(File.Exists(ChunkPath(fixture.DataDirectory, wrong)));

        // Both in the trailer: both are checked.
        var both = NewChunkId();
        var badSha = await Assert.ThrowsAsync<RpcException>(() => PutWithTrailerAsync(Client, both, data, Sha256(changed), "", Cancel, trailerXxHash3: xxHash3));
        Assert.Equal(StatusCode.DataLoss, badSha.StatusCode);
        Assert.False(File.Exists(ChunkPath(fixture.DataDirectory, both)));
        await AssertNoTempFilesAsync();
    }

    [Fact]
    public async Task A_stored_chunk_is_read_whole_and_by_range()
    {
        // Three checksum blocks and a bit: ranges cross block boundaries.
        var data = RandomBytes((3 * 1024 * 1024) + 12_345, 7);
        var id = NewChunkId();
        await PutAsync(Client, id, data, Cancel);

        var (info, whole) = await GetAsync(Client, id, Cancel);
        Assert.Equal(data.Length, info.Size);
        Assert.Equal(Sha256(data), info.Sha256);
        Assert.Equal(data, whole);

        foreach (var (offset, length) in new (long, long)[] { (0, 1), (1048575, 2), (1048576, 1048576), (5, 3 * 1048576), (data.Length - 1, 1), (data.Length, 0) })
        {
            var (_, range) = await GetAsync(Client, id, Cancel, offset, length);
            Assert.Equal(data.AsSpan((int)offset, (int)length).ToArray(), range);
        }

        var (_, tail) = await GetAsync(Client, id, Cancel, offset: 2_000_000);
        Assert.Equal(data.AsSpan(2_000_000).ToArray(), tail);

        var outside = await Assert.ThrowsAsync<RpcException>(() => GetAsync(Client, id, Cancel, offset: data.Length + 1));
        Assert.Equal(StatusCode.OutOfRange, outside.StatusCode);
        var tooLong = await Assert.ThrowsAsync<RpcException>(() => GetAsync(Client, id, Cancel, offset: 10, length: data.Length));
        Assert.Equal(StatusCode.OutOfRange, tooLong.StatusCode);
    }

    [Fact]
    public async Task An_empty_chunk_is_stored_and_read()
    {
        var id = NewChunkId();
        var response = await PutAsync(Client, id, [], Cancel);
        Assert.Equal(0, response.Size);

        var (info, data) = await GetAsync(Client, id, Cancel);
        Assert.Equal(0, info.Size);
        Assert.Empty(data);
    }

    [Fact]
    public async Task An_unknown_chunk_is_not_found()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => GetAsync(Client, NewChunkId(), Cancel));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task A_corrupt_chunk_fails_with_data_loss_before_any_bad_byte_is_sent()
    {
        var data = RandomBytes((3 * 1024 * 1024) + 100, 8);
        var id = NewChunkId();
        await PutAsync(Client, id, data, Cancel);
        var corruptAt = (2 * 1024 * 1024) + 4242; // in the third checksum block
        FlipByteOnDisk(ChunkPath(fixture.DataDirectory, id), corruptAt);

        var (received, error) = await GetUntilErrorAsync(Client, id, Cancel);

        Assert.Equal(StatusCode.DataLoss, error.StatusCode);
        // Only the verified blocks before the damage arrived, and they are the original bytes.
        Assert.Equal(2 * 1024 * 1024, received.Length);
        Assert.Equal(data.AsSpan(0, received.Length).ToArray(), received);

        var health = await Client.HealthCheckAsync(new HealthCheckRequest(), cancellationToken: Cancel);
        Assert.True(health.CorruptChunks >= 1);
        Assert.Contains("corrupt", health.Detail);
        Assert.True((await Client.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel)).CorruptChunks >= 1);

        // A range before the damage is refused too: the node no longer trusts the chunk.
        var again = await Assert.ThrowsAsync<RpcException>(() => GetAsync(Client, id, Cancel, 0, 10));
        Assert.Equal(StatusCode.DataLoss, again.StatusCode);

        // Repair puts the good bytes again: the corrupt copy is replaced.
        var repaired = await PutAsync(Client, id, data, Cancel);
        Assert.False(repaired.AlreadyPresent);
        Assert.Equal(data, (await GetAsync(Client, id, Cancel)).Data);
    }

    [Fact]
    public async Task A_repeated_put_with_the_same_hash_succeeds_without_rewriting_and_a_different_one_is_refused()
    {
        var data = RandomBytes(700_000, 9);
        var id = NewChunkId();
        await PutAsync(Client, id, data, Cancel);
        var path = ChunkPath(fixture.DataDirectory, id);
        var written = File.GetLastWriteTimeUtc(path);
        var inode = new FileInfo(path).CreationTimeUtc;

        var again = await PutAsync(Client, id, data, Cancel);
        Assert.True(again.AlreadyPresent);
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
        Assert.Equal(inode, new FileInfo(path).CreationTimeUtc);

        var other = RandomBytes(700_000, 10);
        var conflict = await Assert.ThrowsAsync<RpcException>(() => PutAsync(Client, id, other, Cancel));
        Assert.Equal(StatusCode.AlreadyExists, conflict.StatusCode);
        Assert.Equal(data, (await GetAsync(Client, id, Cancel)).Data);
    }

    [Fact]
    public async Task Delete_removes_the_chunk_and_is_idempotent()
    {
        var data = RandomBytes(100_000, 11);
        var id = NewChunkId();
        await PutAsync(Client, id, data, Cancel);
        var path = ChunkPath(fixture.DataDirectory, id);
        var fileLength = new FileInfo(path).Length;

        var first = await Client.DeleteChunkAsync(new DeleteChunkRequest { ChunkId = id }, cancellationToken: Cancel);
        Assert.True(first.Existed);
        Assert.Equal(fileLength, first.BytesFreed);
        Assert.False(File.Exists(path));

        var second = await Client.DeleteChunkAsync(new DeleteChunkRequest { ChunkId = id }, cancellationToken: Cancel);
        Assert.False(second.Existed);
        Assert.Equal(0, second.BytesFreed);
        var gone = await Assert.ThrowsAsync<RpcException>(() => GetAsync(Client, id, Cancel));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Health_and_stats_describe_the_node()
    {
        var serverId = File.ReadAllText(Path.Combine(fixture.DataDirectory, "server-id")).Trim();

        var health = await Client.HealthCheckAsync(new HealthCheckRequest(), cancellationToken: Cancel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Equal(serverId, health.ServerId);
        Assert.Equal("storage-1", health.Name);

        var id = NewChunkId();
        var before = await Client.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel);
        await PutAsync(Client, id, RandomBytes(50_000, 12), Cancel);
        var after = await Client.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel);
        Assert.Equal(serverId, after.ServerId);
        Assert.True(after.TotalSpace > 0);
        Assert.True(after.AvailableSpace > 0);
        Assert.True(after.ChunkCount >= before.ChunkCount + 1);
        Assert.True(after.BytesWritten >= before.BytesWritten + 50_000);
        Assert.True(after.UsedSpace >= before.UsedSpace + 50_000);
    }

    [Fact]
    public async Task Ten_puts_at_once_all_succeed_and_read_back()
    {
        var chunks = Enumerable.Range(0, 10).Select(i => (Id: NewChunkId(), Data: RandomBytes(4 * 1024 * 1024 + i, 100 + i))).ToList();

        var responses = await Task.WhenAll(chunks.Select(c => PutAsync(Client, c.Id, c.Data, Cancel)));

        Assert.All(responses, r => Assert.False(r.AlreadyPresent));
        foreach (var (id, data) in chunks)
        {
            Assert.Equal(data, (await GetAsync(Client, id, Cancel)).Data);
        }

        await AssertNoTempFilesAsync();
    }

    [Fact]
    public async Task A_put_cancelled_midway_leaves_nothing_behind()
    {
        var id = NewChunkId();
        var data = RandomBytes(8 * 1024 * 1024, 13);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        using (var call = Client.PutChunk(cancellationToken: cancel.Token))
        {
            await call.RequestStream.WriteAsync(new PutChunkRequest { Header = Header(id, data.Length, Sha256(data)) }, Cancel);
            for (var offset = 0; offset < data.Length / 2; offset += MessageSize)
            {
                await call.RequestStream.WriteAsync(new PutChunkRequest { Data = ByteString.CopyFrom(data, offset, MessageSize) }, Cancel);
            }

            // The temporary file exists while the stream is open...
            await WaitUntilAsync(() => Directory.GetFiles(Path.Combine(fixture.DataDirectory, "tmp")).Length > 0, "a temporary file while the put is open");
            cancel.Cancel();
            var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
            Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        }

        // ...and is gone once the caller has gone.
        await AssertNoTempFilesAsync();
        Assert.False(File.Exists(ChunkPath(fixture.DataDirectory, id)));
        Assert.Equal(data, await PutThenGetAsync(id, data));
    }

    [Fact]
    public async Task The_listing_streams_every_chunk_in_id_order_and_resumes_after_an_id()
    {
        var ids = Enumerable.Range(0, 7).Select(_ => NewChunkId()).ToList();
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            await PutAsync(Client, id, RandomBytes(1000 + i, 200 + i), Cancel);
        }

        var listed = await ListAsync(startAfter: "", batchSize: 2);
        Assert.Equal(listed.Select(e => e.ChunkId).Order(StringComparer.Ordinal), listed.Select(e => e.ChunkId));
        Assert.Subset(listed.Select(e => e.ChunkId).ToHashSet(), ids.ToHashSet());
        var entry = listed.Single(e => e.ChunkId == ids[3]);
        Assert.Equal(1003, entry.Size);
        Assert.Equal(Sha256(RandomBytes(1003, 203)), entry.Sha256);

        var pivot = ids.Order(StringComparer.Ordinal).ElementAt(3);
        var resumed = await ListAsync(startAfter: pivot, batchSize: 0);
        Assert.Equal(listed.Select(e => e.ChunkId).Where(id => string.CompareOrdinal(id, pivot) > 0), resumed.Select(e => e.ChunkId));
    }

    private async Task<List<ChunkEntry>> ListAsync(string startAfter, int batchSize)
    {
        using var call = Client.ListChunks(new ListChunksRequest { StartAfter = startAfter, BatchSize = batchSize }, cancellationToken: Cancel);
        var entries = new List<ChunkEntry>();
        await foreach (var batch in call.ResponseStream.ReadAllAsync(Cancel))
        {
            Assert.True(batchSize == 0 || batch.Chunks.Count <= batchSize);
            entries.AddRange(batch.Chunks);
        }

        return entries;
    }

    private async Task<byte[]> PutThenGetAsync(string id, byte[] data)
    {
        await PutAsync(Client, id, data, Cancel);
        return (await GetAsync(Client, id, Cancel)).Data;
    }

    private Task AssertNoTempFilesAsync() =>
        WaitUntilAsync(() => Directory.GetFiles(Path.Combine(fixture.DataDirectory, "tmp")).Length == 0, "no temporary files");

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out waiting for {what}.");
            }

            await Task.Delay(50, Cancel);
        }
    }
}
