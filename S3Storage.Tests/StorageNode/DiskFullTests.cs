using System.Diagnostics;
using Grpc.Core;
using S3Storage.DevCluster.Processes;
using S3Storage.Tests.Infrastructure;
using static S3Storage.Tests.StorageNode.ChunkTransfers;

namespace S3Storage.Tests.StorageNode;

/// <summary>
/// A node whose data directory is a real 16 MiB tmpfs: the write path meets the file system's
/// own ENOSPC, not a simulation. Mounting needs root, as CI runs.
/// </summary>
public sealed class DiskFullTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private const int VolumeMegabytes = 16;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly string _mountPoint = Path.Combine(Path.GetTempPath(), $"s3storage-full-{Guid.NewGuid():N}");
    private bool _mounted;
    private StorageNodeProcess? _node;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_mountPoint);
        await RunAsync("mount", "-t", "tmpfs", "-o", $"size={VolumeMegabytes}m", "tmpfs", _mountPoint);
        _mounted = true;
        var connectionString = await postgres.CreateMigratedDatabaseAsync("full");
        _node = await StorageNodeProcess.StartAsync(
            new StorageNodeSettings("storage-1", Path.Combine(_mountPoint, "data"), connectionString, S3Storage.Contracts.Configuration.ClusterOptions.Generate())
            {
                LogFile = Path.Combine(Path.GetTempPath(), $"s3storage-full-{Guid.NewGuid():N}.log"),
            },
            Cancel);
    }

    [Fact]
    public async Task A_chunk_larger_than_the_free_space_is_refused_as_resource_exhausted_and_nothing_half_written_stays()
    {
        var node = _node!;
        var id = NewChunkId();
        var data = RandomBytes(24 * 1024 * 1024, 31);

        var error = await Assert.ThrowsAsync<RpcException>(() => PutAsync(node.Client, id, data, Cancel));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("disk is full", error.Status.Detail);
        Assert.False(File.Exists(ChunkPath(node.DataDirectory, id)));
        Assert.Empty(Directory.GetFiles(Path.Combine(node.DataDirectory, "tmp")));

        // Space that was never used is still there for chunks that fit.
        var small = RandomBytes(1024 * 1024, 32);
        var stored = await PutAsync(node.Client, NewChunkId(), small, Cancel);
        Assert.Equal(small.Length, stored.Size);
    }

    [Fact]
    public async Task A_refused_put_does_not_break_the_next_call_on_the_same_connection()
    {
        // The node refuses at once while the client still streams; without draining, the reset
        // stream could take the HTTP/2 connection down and the next call lost its header.
        var node = _node!;
        var tooLarge = RandomBytes(24 * 1024 * 1024, 33);
        for (var round = 0; round < 10; round++)
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => PutAsync(node.Client, NewChunkId(), tooLarge, Cancel));
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            var small = RandomBytes(100_000, round);
            var stored = await PutAsync(node.Client, NewChunkId(), small, Cancel);
            Assert.Equal(small.Length, stored.Size);
            await node.Client.DeleteChunkAsync(new Contracts.Storage.DeleteChunkRequest { ChunkId = stored.ChunkId }, cancellationToken: Cancel);
        }
    }

    [Fact]
    public async Task A_disk_that_fills_up_during_writes_refuses_the_chunk_that_no_longer_fits()
    {
        var node = _node!;
        var stored = 0;
        RpcException? error = null;
        // 3 MiB chunks until the 16 MiB volume is full.
        for (var i = 0; i < 10 && error is null; i++)
        {
            try
            {
                await PutAsync(node.Client, NewChunkId(), RandomBytes(3 * 1024 * 1024, 40 + i), Cancel);
                stored++;
            }
            catch (RpcException e)
            {
                error = e;
            }
        }

        Assert.NotNull(error);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.InRange(stored, 1, 5);
        Assert.Empty(Directory.GetFiles(Path.Combine(node.DataDirectory, "tmp")));
        var stats = await node.Client.GetStatsAsync(new Contracts.Storage.GetStatsRequest(), cancellationToken: Cancel);
        Assert.Equal(stored, stats.ChunkCount);
    }

    public async ValueTask DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        if (_mounted)
        {
            await RunAsync("umount", _mountPoint);
        }

        Directory.Delete(_mountPoint, recursive: true);
    }

    private static async Task RunAsync(string command, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(command) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"'{command} {string.Join(' ', arguments)}' failed ({process.ExitCode}): {error.Trim()}. The disk-full tests mount a small tmpfs and need root.");
        }
    }
}
