using System.IO.Hashing;
using Google.Protobuf;
using Grpc.Core;
using S3Storage.Contracts.Storage;
using static S3Storage.Tests.StorageNode.ChunkTransfers;
using NodeClient = S3Storage.Contracts.Storage.StorageNode.StorageNodeClient;

namespace S3Storage.Tests.StorageNode;

/// <summary>PutChunks, several whole chunks in one call with one shared commit, against a real node process.</summary>
public sealed class ChunkBatchTests(StorageNodeFixture fixture) : IClassFixture<StorageNodeFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private NodeClient Client => fixture.Node.Client;

    [Fact]
    public async Task A_batch_of_six_chunks_is_stored_whole_and_answered_in_order_with_each_sha256()
    {
        // The chunks of a small file, an empty one and one of several data messages among them.
        var chunks = new[] { 4096, 0, 683, 200_000, 1, 65_537 }.Select((size, i) => new BatchChunk(NewChunkId(), RandomBytes(size, 100 + i))).ToList();

        var response = await PutBatchAsync(Client, chunks, Cancel);

        Assert.Equal(chunks.Select(c => c.Id), response.Chunks.Select(c => c.ChunkId));
        Assert.Equal(chunks.Select(c => Sha256(c.Data)), response.Chunks.Select(c => c.Sha256));
        Assert.Equal(chunks.Select(c => (long)c.Data.Length), response.Chunks.Select(c => c.Size));
        Assert.All(response.Chunks, c => Assert.False(c.AlreadyPresent));
        foreach (var chunk in chunks)
        {
            var (info, data) = await GetAsync(Client, chunk.Id, Cancel);
            Assert.Equal(chunk.Data, data);
            Assert.Equal(Sha256(chunk.Data), info.Sha256);
        }

        await AssertNoTempFilesAsync();
    }

    [Fact]
    public async Task A_batch_with_one_corrupted_chunk_is_refused_and_none_of_its_chunks_is_stored()
    {
        var chunks = Enumerable.Range(0, 4).Select(i => new BatchChunk(NewChunkId(), RandomBytes(5000, 200 + i))).ToList();
        // The third chunk's bytes changed after its XxHash3 was taken, as a bad wire or buffer would.
        chunks[2] = chunks[2] with { XxHash3Override = XxHash3.HashToUInt64(RandomBytes(5000, 299)) };

        var error = await Assert.ThrowsAsync<RpcException>(() => PutBatchAsync(Client, chunks, Cancel));

        Assert.Equal(StatusCode.DataLoss, error.StatusCode);
        Assert.Contains("XxHash3", error.Status.Detail);
        // The two chunks before it were written and verified, but never committed.
        Assert.All(chunks, c => Assert.False(File.Exists(ChunkPath(fixture.DataDirectory, c.Id)), $"chunk {c.Id} was stored"));
        await AssertNoTempFilesAsync();
    }

    [Fact]
    public async Task Malformed_batches_are_refused_with_invalid_argument_and_leave_nothing()
    {
        var first = new BatchChunk(NewChunkId(), RandomBytes(3000, 301));
        var second = new BatchChunk(NewChunkId(), RandomBytes(3000, 302));

        // A chunk whose trailer is missing: the next header arrives where its trailer should be.
        var noTrailer = await Assert.ThrowsAsync<RpcException>(() => SendAsync(Client, [Header(first), Data(first.Data), Header(second), Data(second.Data), Trailer(second)], Cancel));
        Assert.Equal(StatusCode.InvalidArgument, noTrailer.StatusCode);
        Assert.Contains("ends with its trailer", noTrailer.Status.Detail);

        // The call ends inside a chunk.
        var cut = await Assert.ThrowsAsync<RpcException>(() => SendAsync(Client, [Header(first), Data(first.Data)], Cancel));
        Assert.Equal(StatusCode.InvalidArgument, cut.StatusCode);

        // More bytes than the header announced.
        var tooMany = await Assert.ThrowsAsync<RpcException>(() => SendAsync(Client, [Header(first), Data(first.Data), Data([1]), Trailer(first)], Cancel));
        Assert.Equal(StatusCode.InvalidArgument, tooMany.StatusCode);

        // The same chunk twice in one call.
        var twice = await Assert.ThrowsAsync<RpcException>(() => PutBatchAsync(Client, [first, first], Cancel));
        Assert.Equal(StatusCode.InvalidArgument, twice.StatusCode);
        Assert.Contains("twice", twice.Status.Detail);

        // Nothing at all, or data before any header.
        var empty = await Assert.ThrowsAsync<RpcException>(() => SendAsync(Client, [], Cancel));
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        var headless = await Assert.ThrowsAsync<RpcException>(() => SendAsync(Client, [Data(first.Data), Trailer(first)], Cancel));
        Assert.Equal(StatusCode.InvalidArgument, headless.StatusCode);

        // More chunks than one call may carry.
        var tooLarge = Enumerable.Range(0, 65).Select(i => new BatchChunk(NewChunkId(), RandomBytes(10, 400 + i))).ToList();
        var tooManyChunks = await Assert.ThrowsAsync<RpcException>(() => PutBatchAsync(Client, tooLarge, Cancel));
        Assert.Equal(StatusCode.InvalidArgument, tooManyChunks.StatusCode);
        Assert.Contains("at most 64", tooManyChunks.Status.Detail);

        Assert.All(tooLarge.Append(first).Append(second), c => Assert.False(File.Exists(ChunkPath(fixture.DataDirectory, c.Id)), $"chunk {c.Id} was stored"));
        await AssertNoTempFilesAsync();
    }

    [Fact]
    public async Task A_chunk_the_node_already_holds_is_answered_present_and_the_rest_of_the_batch_is_stored()
    {
        var held = new BatchChunk(NewChunkId(), RandomBytes(7000, 501));
        await PutAsync(Client, held.Id, held.Data, Cancel);
        var fresh = new BatchChunk(NewChunkId(), RandomBytes(7000, 502));

        // The writer gives the held chunk's SHA-256 up front, as repair does.
        var response = await SendAsync(Client, [Header(held, withSha256: true), Data(held.Data), Trailer(held), Header(fresh), Data(fresh.Data), Trailer(fresh)], Cancel);

        Assert.True(response.Chunks[0].AlreadyPresent);
        Assert.False(response.Chunks[1].AlreadyPresent);
        Assert.Equal(Sha256(fresh.Data), response.Chunks[1].Sha256);
        Assert.Equal(held.Data, (await GetAsync(Client, held.Id, Cancel)).Data);
        Assert.Equal(fresh.Data, (await GetAsync(Client, fresh.Id, Cancel)).Data);
    }

    [Fact]
    public async Task A_node_killed_mid_batch_stores_none_of_it_and_takes_the_same_batch_after_its_restart()
    {
        var chunks = Enumerable.Range(0, 3).Select(i => new BatchChunk(NewChunkId(), RandomBytes(100_000, 600 + i))).ToList();
        var tmp = Path.Combine(fixture.DataDirectory, "tmp");
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        using (var call = Client.PutChunks(cancellationToken: aborted.Token))
        {
            // Two chunks whole and half of the third: the node has written and verified the first two.
            foreach (var message in Messages(chunks[..2]).Append(Header(chunks[2])).Append(Data(chunks[2].Data.AsSpan(0, 50_000).ToArray())))
            {
                await call.RequestStream.WriteAsync(message, Cancel);
            }

            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Directory.GetFiles(tmp).Length < 3)
            {
                Assert.True(DateTime.UtcNow < deadline, "the node did not write the batch's temporary files within 20 s");
                await Task.Delay(50, Cancel);
            }

            await fixture.Node.Process.KillAsync();
            await aborted.CancelAsync();
        }

        // What the crash left is temporary files, never a chunk under its name.
        Assert.Equal(3, Directory.GetFiles(tmp).Length);
        await fixture.RestartAsync();
        foreach (var chunk in chunks)
        {
            var missing = await Assert.ThrowsAsync<RpcException>(() => GetAsync(fixture.Node.Client, chunk.Id, Cancel));
            Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        }

        using var list = fixture.Node.Client.ListChunks(new ListChunksRequest(), cancellationToken: Cancel);
        var listed = new List<string>();
        await foreach (var batch in list.ResponseStream.ReadAllAsync(Cancel))
        {
            listed.AddRange(batch.Chunks.Select(c => c.ChunkId));
        }

        Assert.DoesNotContain(listed, id => chunks.Any(c => c.Id == id));

        // The gateway's retry sends the same batch again; it is stored whole.
        var response = await PutBatchAsync(fixture.Node.Client, chunks, Cancel);
        Assert.All(response.Chunks, c => Assert.False(c.AlreadyPresent));
        foreach (var chunk in chunks)
        {
            Assert.Equal(chunk.Data, (await GetAsync(fixture.Node.Client, chunk.Id, Cancel)).Data);
        }

        // The crash's leftovers are swept at a start once they are older than Node:TempFileMaxAge.
        foreach (var leftover in Directory.GetFiles(tmp))
        {
            File.Delete(leftover);
        }
    }

    private async Task AssertNoTempFilesAsync()
    {
        // A refused call's temporary files are removed as it ends, which may be just after the answer.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        var tmp = Path.Combine(fixture.DataDirectory, "tmp");
        while (Directory.GetFiles(tmp).Length > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Cancel);
        }

        Assert.Empty(Directory.GetFiles(tmp));
    }

    private static Task<PutChunksResponse> PutBatchAsync(NodeClient client, IReadOnlyList<BatchChunk> chunks, CancellationToken cancellationToken) =>
        SendAsync(client, Messages(chunks), cancellationToken);

    private static IEnumerable<PutChunkRequest> Messages(IReadOnlyList<BatchChunk> chunks) =>
        chunks.SelectMany(chunk => new[] { Header(chunk) }
            .Concat(Enumerable.Range(0, (chunk.Data.Length + MessageSize - 1) / MessageSize).Select(i => Data(chunk.Data.AsSpan(i * MessageSize, Math.Min(MessageSize, chunk.Data.Length - (i * MessageSize))).ToArray())))
            .Append(Trailer(chunk)));

    private static async Task<PutChunksResponse> SendAsync(NodeClient client, IEnumerable<PutChunkRequest> messages, CancellationToken cancellationToken)
    {
        using var call = client.PutChunks(cancellationToken: cancellationToken);
        try
        {
            foreach (var message in messages)
            {
                await call.RequestStream.WriteAsync(message, cancellationToken);
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or RpcException)
        {
            // The node answered before reading everything (a refusal): its answer is in ResponseAsync.
        }

        return await call.ResponseAsync;
    }

    private static PutChunkRequest Header(BatchChunk chunk, bool withSha256 = false) =>
        new() { Header = new ChunkHeader { ChunkId = chunk.Id, Size = chunk.Data.Length, Sha256 = withSha256 ? Sha256(chunk.Data) : "", FileId = Guid.NewGuid().ToString("D") } };

    private static PutChunkRequest Data(byte[] data) => new() { Data = ByteString.CopyFrom(data) };

    private static PutChunkRequest Trailer(BatchChunk chunk) =>
        new() { Trailer = new ChunkTrailer { Xxhash3 = chunk.XxHash3Override ?? XxHash3.HashToUInt64(chunk.Data) } };

    private sealed record BatchChunk(string Id, byte[] Data)
    {
        public ulong? XxHash3Override { get; init; }
    }
}
