using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;
using S3Storage.Tests.Infrastructure;

namespace S3Storage.Tests.Metadata;

public sealed class ServerRegistryTests(MetadataDatabase database) : IClassFixture<MetadataDatabase>
{
    private static readonly TimeSpan HeartbeatAge = TimeSpan.FromSeconds(30);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static ServerRegistration Registration(Guid id, string name, int port) =>
        new(id, name, $"http://127.0.0.1:{port}", AvailableSpace: 1_000_000, UsedSpace: 0, TotalChunks: 0, Metadata: """{"version":"test"}""");

    [Fact]
    public async Task Registration_stores_the_server_and_its_150_ring_points()
    {
        var id = Guid.NewGuid();
        await using var db = database.CreateContext();
        await new ServerRegistry(db).RegisterAsync(Registration(id, "storage-1", 41001), HashRing.DefaultVirtualNodes, Cancel);

        var server = await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == id, Cancel);
        Assert.Equal("storage-1", server.Name);
        Assert.Equal("http://127.0.0.1:41001", server.GrpcAddress);
        Assert.Equal(ServerStatus.Active, server.Status);
        Assert.NotNull(server.LastHeartbeat);

        var points = await db.HashRingNodes.AsNoTracking().Where(n => n.ServerId == id).OrderBy(n => n.VirtualNodeIndex).ToListAsync(Cancel);
        Assert.Equal(150, points.Count);
        Assert.Equal(HashRing.PointsFor(id).Select(p => (long)p.Hash), points.Select(p => p.HashValue));
    }

    [Fact]
    public async Task Registering_again_keeps_the_id_and_points_and_takes_the_new_address()
    {
        var id = Guid.NewGuid();
        await using var db = database.CreateContext();
        var registry = new ServerRegistry(db);
        await registry.RegisterAsync(Registration(id, "storage-2", 41002), HashRing.DefaultVirtualNodes, Cancel);
        await registry.SetStatusAsync(id, ServerStatus.Inactive, Cancel);
        var before = await db.HashRingNodes.AsNoTracking().Where(n => n.ServerId == id).OrderBy(n => n.VirtualNodeIndex).Select(n => n.HashValue).ToListAsync(Cancel);

        await registry.RegisterAsync(Registration(id, "storage-2", 41102), HashRing.DefaultVirtualNodes, Cancel);

        var server = await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == id, Cancel);
        Assert.Equal("http://127.0.0.1:41102", server.GrpcAddress);
        Assert.Equal(ServerStatus.Active, server.Status);
        var after = await db.HashRingNodes.AsNoTracking().Where(n => n.ServerId == id).OrderBy(n => n.VirtualNodeIndex).Select(n => n.HashValue).ToListAsync(Cancel);
        Assert.Equal(before, after);

        // A smaller point count takes effect too.
        await registry.RegisterAsync(Registration(id, "storage-2", 41102), 100, Cancel);
        Assert.Equal(100, await db.HashRingNodes.CountAsync(n => n.ServerId == id, Cancel));
    }

    [Fact]
    public async Task A_heartbeat_records_space_and_chunk_count_and_moves_the_heartbeat_time()
    {
        var id = Guid.NewGuid();
        await using var db = database.CreateContext();
        var registry = new ServerRegistry(db);
        await registry.RegisterAsync(Registration(id, "storage-3", 41003), HashRing.DefaultVirtualNodes, Cancel);
        await db.Database.ExecuteSqlInterpolatedAsync($"UPDATE storage_servers SET last_heartbeat = now() - interval '1 minute' WHERE server_id = {id}", Cancel);
        var stale = (await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == id, Cancel)).LastHeartbeat!.Value;

        Assert.True(await registry.HeartbeatAsync(id, availableSpace: 500, usedSpace: 300, totalChunks: 7, Cancel));

        var server = await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == id, Cancel);
        Assert.Equal(500, server.AvailableSpace);
        Assert.Equal(300, server.UsedSpace);
        Assert.Equal(7, server.TotalChunks);
        Assert.True(server.LastHeartbeat > stale.AddSeconds(50));
        Assert.False(await registry.HeartbeatAsync(Guid.NewGuid(), 1, 1, 1, Cancel), "an unknown server must register first");
    }

    [Fact]
    public async Task Only_active_servers_with_a_recent_heartbeat_are_live_and_on_the_ring()
    {
        await using var db = database.CreateContext();
        // This class's other tests register servers too: start from none.
        await db.StorageServers.ExecuteDeleteAsync(Cancel);
        var registry = new ServerRegistry(db);
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        for (var i = 0; i < ids.Length; i++)
        {
            await registry.RegisterAsync(Registration(ids[i], $"storage-{i + 1}", 42000 + i), HashRing.DefaultVirtualNodes, Cancel);
        }

        var silent = ids[3];
        var inactive = ids[4];
        await db.Database.ExecuteSqlInterpolatedAsync($"UPDATE storage_servers SET last_heartbeat = now() - interval '31 seconds' WHERE server_id = {silent}", Cancel);
        await registry.SetStatusAsync(inactive, ServerStatus.Inactive, Cancel);

        var live = await registry.GetLiveServersAsync(HeartbeatAge, Cancel);
        Assert.Equal(ids[..3].Order(), live.Select(s => s.ServerId).Order());

        var ring = await registry.LoadRingAsync(HeartbeatAge, Cancel);
        Assert.Equal(3, ring.ServerCount);
        Assert.Equal(450, ring.PointCount);
        var expected = HashRing.Build(ids[..3]);
        foreach (var file in Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()))
        {
            var key = HashRing.ChunkKey(file, 0);
            Assert.Equal(expected.Locate(key, 2), ring.Locate(key, 2));
        }

        // A heartbeat brings the silent server back.
        await registry.HeartbeatAsync(silent, 1, 1, 1, Cancel);
        Assert.Equal(4, (await registry.GetLiveServersAsync(HeartbeatAge, Cancel)).Count);
    }

    [Fact]
    public async Task A_new_server_at_an_old_address_retires_the_old_identity_and_addresses_stay_unique()
    {
        // A node whose data directory was wiped comes back with a new id at its old address.
        await using var db = database.CreateContext();
        var registry = new ServerRegistry(db);
        var old = Guid.NewGuid();
        var wiped = Guid.NewGuid();
        await registry.RegisterAsync(Registration(old, "storage-5", 41005), HashRing.DefaultVirtualNodes, Cancel);

        await registry.RegisterAsync(Registration(wiped, "storage-5", 41005), HashRing.DefaultVirtualNodes, Cancel);

        var retired = await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == old, Cancel);
        Assert.Equal(ServerStatus.Inactive, retired.Status);
        Assert.Equal($"http://retired-{old}", retired.GrpcAddress);
        var current = await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == wiped, Cancel);
        Assert.Equal(ServerStatus.Active, current.Status);
        Assert.Equal("http://127.0.0.1:41005", current.GrpcAddress);

        db.StorageServers.Add(new StorageServer { ServerId = Guid.NewGuid(), Name = "storage-x", GrpcAddress = "http://127.0.0.1:41005" });
        var error = await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync(Cancel));
        Assert.Equal("ix_storage_servers_grpc_address", Assert.IsType<Npgsql.PostgresException>(error.InnerException).ConstraintName);
    }

    [Fact]
    public async Task A_new_server_under_an_old_name_at_a_new_address_retires_the_old_identity()
    {
        // The dev cluster restarts a wiped node on a new port: the name is what stays.
        await using var db = database.CreateContext();
        var registry = new ServerRegistry(db);
        var old = Guid.NewGuid();
        var wiped = Guid.NewGuid();
        await registry.RegisterAsync(Registration(old, "storage-6", 41006), HashRing.DefaultVirtualNodes, Cancel);

        await registry.RegisterAsync(Registration(wiped, "storage-6", 41106), HashRing.DefaultVirtualNodes, Cancel);

        Assert.Equal(ServerStatus.Inactive, (await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == old, Cancel)).Status);
        Assert.Equal(ServerStatus.Active, (await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == wiped, Cancel)).Status);
    }

    [Fact]
    public async Task A_drain_survives_the_node_registering_again()
    {
        var id = Guid.NewGuid();
        await using var db = database.CreateContext();
        var registry = new ServerRegistry(db);
        await registry.RegisterAsync(Registration(id, "storage-8", 41008), HashRing.DefaultVirtualNodes, Cancel);
        await registry.SetStatusAsync(id, ServerStatus.Draining, Cancel);

        await registry.RegisterAsync(Registration(id, "storage-8", 41108), HashRing.DefaultVirtualNodes, Cancel);

        Assert.Equal(ServerStatus.Draining, (await db.StorageServers.AsNoTracking().SingleAsync(s => s.ServerId == id, Cancel)).Status);
    }
}
