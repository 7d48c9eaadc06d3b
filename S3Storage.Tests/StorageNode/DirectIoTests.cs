using System.IO.Hashing;
using S3Storage.DevCluster.Processes;
using S3Storage.Tests.Infrastructure;
using static S3Storage.Tests.StorageNode.ChunkTransfers;

namespace S3Storage.Tests.StorageNode;

/// <summary>
/// Chunk files of 1 MiB and more are written and read past the page cache (<c>O_DIRECT</c>) on a
/// volume that takes it, with the same file format as buffered ones: a node switched from one
/// mode to the other (<c>Node__DirectIo</c>) reads what it wrote before, byte for byte.
/// </summary>
public sealed class DirectIoTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private const string DirectIoLine = "written and read past the page cache (O_DIRECT)";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"s3storage-direct-{Guid.NewGuid():N}");
    private readonly string _clusterSecret = Contracts.Configuration.ClusterOptions.Generate();
    private string _connectionString = "";
    private StorageNodeProcess? _node;

    private string DataDirectory => Path.Combine(_root, "storage-1");

    public async ValueTask InitializeAsync()
    {
        _connectionString = await postgres.CreateMigratedDatabaseAsync("direct");
        Directory.CreateDirectory(_root);
    }

    [Fact]
    public async Task Large_chunks_written_past_the_page_cache_have_their_exact_length_and_read_back_in_either_mode()
    {
        var node = await StartAsync(directIo: true);
        await WaitForLogAsync(node, DirectIoLine);

        // Not a multiple of the 4 KiB alignment, with the hash only in the trailer: the header
        // is rewritten after the data, so the first block must still be in memory then.
        var direct = RandomBytes((3 * 1024 * 1024) + 12_345, 41);
        var directId = NewChunkId();
        var stored = await PutWithTrailerAsync(node.Client, directId, direct, trailerSha256: null, headerSha256: "", Cancel, trailerXxHash3: XxHash3.HashToUInt64(direct));
        Assert.Equal(Sha256(direct), stored.Sha256);
        // Below the 1 MiB threshold: through the page cache.
        var small = RandomBytes(700_000, 42);
        var smallId = NewChunkId();
        await PutAsync(node.Client, smallId, small, Cancel);

        // Files whose length is a whole number of 4 KiB blocks: 3 MiB, where the last 1 MiB
        // stage fills exactly, and 2 MiB + 4 KiB, where the first block and full stages are all.
        var exact = RandomBytes(3_145_588, 44);
        var exactId = NewChunkId();
        await PutAsync(node.Client, exactId, exact, Cancel);
        var staged = RandomBytes(2_101_108, 45);
        var stagedId = NewChunkId();
        await PutAsync(node.Client, stagedId, staged, Cancel);

        // The last block was padded for the device and cut back: header, data, one CRC-32 per MiB.
        Assert.Equal(128 + direct.Length + (4 * 4), new FileInfo(ChunkPath(DataDirectory, directId)).Length);
        Assert.Equal(128 + small.Length + 4, new FileInfo(ChunkPath(DataDirectory, smallId)).Length);
        Assert.Equal(3 * 1024 * 1024, new FileInfo(ChunkPath(DataDirectory, exactId)).Length);
        Assert.Equal((2 * 1024 * 1024) + 4096, new FileInfo(ChunkPath(DataDirectory, stagedId)).Length);
        await AssertReadsBackAsync(node, directId, direct);
        await AssertReadsBackAsync(node, smallId, small);
        await AssertReadsBackAsync(node, exactId, exact);
        await AssertReadsBackAsync(node, stagedId, staged);

        // The same files through the page cache, and a large one written that way.
        await node.DisposeAsync();
        node = await StartAsync(directIo: false);
        // Registration is logged after the store's start, where the direct I/O line would be.
        await WaitForLogAsync(node, "Registered storage-1");
        Assert.DoesNotContain(DirectIoLine, await RunLogAsync(node));
        await AssertReadsBackAsync(node, directId, direct);
        await AssertReadsBackAsync(node, smallId, small);
        await AssertReadsBackAsync(node, exactId, exact);
        await AssertReadsBackAsync(node, stagedId, staged);
        var buffered = RandomBytes((2 * 1024 * 1024) + 77, 43);
        var bufferedId = NewChunkId();
        await PutAsync(node.Client, bufferedId, buffered, Cancel);

        // And back: direct reads of a file written through the page cache.
        await node.DisposeAsync();
        node = await StartAsync(directIo: true);
        await WaitForLogAsync(node, DirectIoLine);
        await AssertReadsBackAsync(node, bufferedId, buffered);
        await AssertReadsBackAsync(node, directId, direct);
        await AssertReadsBackAsync(node, exactId, exact);
    }

    [Fact]
    public async Task A_bit_flipped_in_a_large_chunk_is_caught_by_a_direct_read_before_the_bad_block_is_sent()
    {
        var node = await StartAsync(directIo: true);
        await WaitForLogAsync(node, DirectIoLine);
        var data = RandomBytes((2 * 1024 * 1024) + 4_000, 46);
        var id = NewChunkId();
        await PutAsync(node.Client, id, data, Cancel);

        // In the second 1 MiB block, at an offset that is not aligned.
        FlipByteOnDisk(ChunkPath(DataDirectory, id), (1024 * 1024) + 4_321);
        var (received, error) = await GetUntilErrorAsync(node.Client, id, Cancel);

        // The intact first block goes out whole; not one byte of the second.
        Assert.Equal(Grpc.Core.StatusCode.DataLoss, error.StatusCode);
        Assert.Equal(1024 * 1024, received.Length);
        Assert.Equal(data.AsSpan(0, received.Length).ToArray(), received);
    }

    public async ValueTask DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<StorageNodeProcess> StartAsync(bool directIo)
    {
        _node = await StorageNodeProcess.StartAsync(
            new StorageNodeSettings("storage-1", DataDirectory, _connectionString, _clusterSecret)
            {
                LogFile = Path.Combine(_root, "logs", $"storage-1-{(directIo ? "direct" : "buffered")}-{Guid.NewGuid():N}.log"),
                Extra = new Dictionary<string, string?> { ["Node__DirectIo"] = directIo ? "true" : "false" },
            },
            Cancel);
        return _node;
    }

    private static async Task AssertReadsBackAsync(StorageNodeProcess node, string id, byte[] data)
    {
        var (info, whole) = await GetAsync(node.Client, id, Cancel);
        Assert.Equal(Sha256(data), info.Sha256);
        Assert.Equal(data, whole);

        // Ranges that start and end inside 4 KiB blocks and across the 1 MiB checksum blocks.
        foreach (var (offset, length) in new (long, long)[] { (0, 1), (4_095, 2), (3_968, 10), (1_048_575, 4_098), (data.Length - 4_097, 4_097), (data.Length - 1, 1) })
        {
            if (offset < 0 || offset + length > data.Length)
            {
                continue;
            }

            var (_, range) = await GetAsync(node.Client, id, Cancel, offset, length);
            Assert.Equal(data.AsSpan((int)offset, (int)length).ToArray(), range);
        }
    }

    /// <summary>This run's own log (each start writes a new file).</summary>
    private static async Task<string> RunLogAsync(StorageNodeProcess node)
    {
        await using var log = new FileStream(node.Process.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(log);
        return await reader.ReadToEndAsync(Cancel);
    }

    private static async Task WaitForLogAsync(StorageNodeProcess node, string line)
    {
        // The line is written before the node serves; the launcher copies it to the file a moment later.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await RunLogAsync(node)).Contains(line, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{node.Name} never logged '{line}': its volume refused O_DIRECT, or direct I/O is off. Log:{Environment.NewLine}{node.Process.Tail}");
            await Task.Delay(100, Cancel);
        }
    }
}
