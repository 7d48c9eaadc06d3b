using Google.Protobuf;
using Grpc.Core;
using GrpcHealth = Grpc.Health.V1;
using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;
using S3Storage.Contracts.Storage;
using S3Storage.DevCluster.Processes;
using S3Storage.Tests.Infrastructure;
using static S3Storage.Tests.StorageNode.ChunkTransfers;

namespace S3Storage.Tests.StorageNode;

/// <summary>Registration, heartbeat, restart and graceful shutdown of real node processes.</summary>
public sealed class NodeLifecycleTests(StorageNodeFixture fixture) : IClassFixture<StorageNodeFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private Contracts.Metadata.MetadataDbContext Db() => PostgresServerFixture.CreateContext(fixture.ConnectionString);

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out waiting for {what}; last seen: {value}");
            }

            await Task.Delay(100, Cancel);
        }
    }

    [Fact]
    public async Task A_started_node_registers_with_its_150_ring_points_and_heartbeats()
    {
        var serverId = Guid.Parse(File.ReadAllText(Path.Combine(fixture.DataDirectory, "server-id")));
        await using var db = Db();

        var server = await EventuallyAsync(
            () => db.StorageServers.AsNoTracking().SingleOrDefaultAsync(s => s.ServerId == serverId, Cancel),
            s => s is { Status: ServerStatus.Active },
            "the node's registration");
        Assert.Equal("storage-1", server!.Name);
        Assert.Equal(fixture.Node.Address.ToString().TrimEnd('/'), server.GrpcAddress);
        Assert.Contains(fixture.DataDirectory, server.Metadata);

        var points = await db.HashRingNodes.AsNoTracking().Where(n => n.ServerId == serverId).OrderBy(n => n.VirtualNodeIndex).Select(n => n.HashValue).ToListAsync(Cancel);
        Assert.Equal(HashRing.PointsFor(serverId).Select(p => (long)p.Hash), points);

        // Heartbeats (every 200 ms here) move last_heartbeat and carry the chunk count.
        var first = server.LastHeartbeat!.Value;
        await PutAsync(fixture.Node.Client, NewChunkId(), RandomBytes(10_000, 1), Cancel);
        var later = await EventuallyAsync(
            () => db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == serverId, Cancel),
            s => s.LastHeartbeat > first && s.TotalChunks >= 1 && s.UsedSpace > 10_000,
            "a heartbeat with the new chunk");
        Assert.True(later.AvailableSpace > 0);
    }

    [Fact]
    public async Task The_standard_grpc_health_check_reports_serving_and_not_serving_when_the_chunk_directory_is_gone()
    {
        var health = new GrpcHealth.Health.HealthClient(fixture.Node.Channel);
        Assert.Equal(GrpcHealth.HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new GrpcHealth.HealthCheckRequest(), cancellationToken: Cancel)).Status);

        // A volume that went away: the probe must say so at once, not at the next cache refresh.
        var chunks = Path.Combine(fixture.DataDirectory, "chunks");
        var moved = chunks + ".away";
        Directory.Move(chunks, moved);
        try
        {
            Assert.Equal(GrpcHealth.HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new GrpcHealth.HealthCheckRequest(), cancellationToken: Cancel)).Status);
        }
        finally
        {
            Directory.Move(moved, chunks);
        }

        Assert.Equal(GrpcHealth.HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new GrpcHealth.HealthCheckRequest(), cancellationToken: Cancel)).Status);
    }

    [Fact]
    public async Task A_node_whose_row_was_removed_registers_again()
    {
        var serverId = Guid.Parse(File.ReadAllText(Path.Combine(fixture.DataDirectory, "server-id")));
        await using var db = Db();
        await EventuallyAsync(() => db.StorageServers.AnyAsync(s => s.ServerId == serverId, Cancel), found => found, "the registration");

        await db.StorageServers.Where(s => s.ServerId == serverId).ExecuteDeleteAsync(Cancel);

        await EventuallyAsync(() => db.HashRingNodes.CountAsync(n => n.ServerId == serverId, Cancel), count => count == 150, "the node to register again");
    }

    [Fact]
    public async Task A_restarted_node_keeps_its_id_ring_points_and_chunks_and_sweeps_stale_temp_files()
    {
        var serverId = File.ReadAllText(Path.Combine(fixture.DataDirectory, "server-id")).Trim();
        var id = NewChunkId();
        var data = RandomBytes(1_500_000, 2);
        await PutAsync(fixture.Node.Client, id, data, Cancel);
        await using var db = Db();
        var pointsBefore = await db.HashRingNodes.AsNoTracking().Where(n => n.ServerId == Guid.Parse(serverId)).OrderBy(n => n.VirtualNodeIndex).Select(n => n.HashValue).ToListAsync(Cancel);
        var oldAddress = fixture.Node.Address;

        var tmp = Path.Combine(fixture.DataDirectory, "tmp");
        var stale = Path.Combine(tmp, "stale.tmp");
        var fresh = Path.Combine(tmp, "fresh.tmp");

        await fixture.Node.Process.StopAsync(TimeSpan.FromSeconds(30));
        var stopped = await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == Guid.Parse(serverId), Cancel);
        Assert.Equal(ServerStatus.Inactive, stopped.Status);

        // What a crash mid-put leaves behind: one file from long ago, one from just now.
        File.WriteAllBytes(stale, [1, 2, 3]);
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-1));
        File.WriteAllBytes(fresh, [4, 5, 6]);

        await fixture.RestartAsync();

        Assert.Equal(serverId, (await fixture.Node.Client.HealthCheckAsync(new HealthCheckRequest(), cancellationToken: Cancel)).ServerId);
        Assert.NotEqual(oldAddress, fixture.Node.Address);
        var restarted = await EventuallyAsync(
            () => db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == Guid.Parse(serverId), Cancel),
            s => s.Status == ServerStatus.Active && s.GrpcAddress == fixture.Node.Address.ToString().TrimEnd('/'),
            "the restarted node to register its new address");
        Assert.Equal(1, await db.StorageServers.CountAsync(s => s.Name == "storage-1", Cancel));
        Assert.Equal(pointsBefore, await db.HashRingNodes.AsNoTracking().Where(n => n.ServerId == restarted.ServerId).OrderBy(n => n.VirtualNodeIndex).Select(n => n.HashValue).ToListAsync(Cancel));
        Assert.Equal(data, (await GetAsync(fixture.Node.Client, id, Cancel)).Data);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
        File.Delete(fresh);
    }

    [Fact]
    public async Task A_second_node_on_the_same_data_directory_refuses_to_start()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => fixture.StartNodeAsync(fixture.DataDirectory, "storage-2"));
        Assert.Contains("in use by another storage node process", error.Message);
    }

    [Fact]
    public async Task Shutdown_lets_a_put_in_flight_finish_refuses_new_ones_and_marks_the_node_inactive()
    {
        var dataDirectory = Path.Combine(fixture.Root, "draining");
        await using var node = await fixture.StartNodeAsync(dataDirectory, "storage-9");
        var serverId = Guid.Parse(File.ReadAllText(Path.Combine(dataDirectory, "server-id")));
        var id = NewChunkId();
        var data = RandomBytes(6 * 1024 * 1024, 3);

        using var call = node.Client.PutChunk(cancellationToken: Cancel);
        await call.RequestStream.WriteAsync(new PutChunkRequest { Header = Header(id, data.Length, Sha256(data)) }, Cancel);
        var half = data.Length / 2;
        for (var offset = 0; offset < half; offset += MessageSize)
        {
            await call.RequestStream.WriteAsync(new PutChunkRequest { Data = ByteString.CopyFrom(data, offset, MessageSize) }, Cancel);
        }

        // The node has taken the put on once its temporary file exists.
        await EventuallyAsync(() => Task.FromResult(Directory.GetFiles(Path.Combine(dataDirectory, "tmp")).Length), count => count == 1, "the put to begin");
        node.Process.Signal(PosixSignals.Term);

        // From the first moment of shutdown new puts are refused; the one in flight goes on.
        await EventuallyAsync(
            async () =>
            {
                try
                {
                    await PutAsync(node.Client, NewChunkId(), RandomBytes(1000, 4), Cancel);
                    return StatusCode.OK;
                }
                catch (RpcException e)
                {
                    return e.StatusCode;
                }
            },
            status => status == StatusCode.Unavailable,
            "new puts to be refused");

        for (var offset = half; offset < data.Length; offset += MessageSize)
        {
            await call.RequestStream.WriteAsync(new PutChunkRequest { Data = ByteString.CopyFrom(data, offset, Math.Min(MessageSize, data.Length - offset)) }, Cancel);
        }

        await call.RequestStream.CompleteAsync();
        var response = await call.ResponseAsync;
        Assert.Equal(data.Length, response.Size);

        await node.Process.WaitForExitAsync(Cancel).WaitAsync(TimeSpan.FromSeconds(30), Cancel);
        await using var db = Db();
        Assert.Equal(ServerStatus.Inactive, (await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == serverId, Cancel)).Status);
        var stored = ChunkPath(dataDirectory, id);
        Assert.Equal(128 + data.Length + (6 * 4), new FileInfo(stored).Length);
    }
}
