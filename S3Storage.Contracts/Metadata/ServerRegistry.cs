using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;

namespace S3Storage.Contracts.Metadata;

/// <summary>What a node says about itself when it registers.</summary>
public sealed record ServerRegistration(
    Guid ServerId,
    string Name,
    string GrpcAddress,
    long AvailableSpace,
    long UsedSpace,
    long TotalChunks,
    string? Metadata = null);

/// <summary>A server as placement and operators see it; <see cref="HeartbeatAge"/> by the database clock.</summary>
public sealed record ServerState(
    Guid ServerId,
    string Name,
    string GrpcAddress,
    ServerStatus Status,
    bool Live,
    TimeSpan? HeartbeatAge,
    long AvailableSpace,
    long UsedSpace,
    long TotalChunks);

/// <summary>
/// Membership in <c>storage_servers</c> and <c>hash_ring_nodes</c>. Every time comparison uses
/// the database clock, so nodes and gateway on different hosts agree on heartbeat age.
/// </summary>
public sealed class ServerRegistry(MetadataDbContext db)
{
    /// <summary>
    /// Inserts or refreshes the server as active with a fresh heartbeat, and makes its ring
    /// points exactly <paramref name="virtualNodes"/> (they depend only on the id, so a node
    /// that restarts with the same id lands on the same positions).
    /// </summary>
    public Task RegisterAsync(ServerRegistration registration, int virtualNodes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(virtualNodes);
        var points = HashRing.PointsFor(registration.ServerId, virtualNodes).ToArray();
        var indexes = points.Select(p => p.VirtualNodeIndex).ToArray();
        var hashes = points.Select(p => (long)p.Hash).ToArray();

        var strategy = db.Database.CreateExecutionStrategy();
        return strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            // A node whose data directory was wiped comes back with a new id under its old name
            // (its slot in the topology), perhaps at its old address: the old identity is
            // retired. Its copies went with the directory; repair re-creates them from the
            // other replicas.
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE storage_servers SET status = 'inactive', grpc_address = 'http://retired-' || server_id::text
                WHERE (grpc_address = {registration.GrpcAddress} OR name = {registration.Name}) AND server_id <> {registration.ServerId}
                """, cancellationToken);
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO storage_servers (server_id, name, grpc_address, status, available_space, used_space, total_chunks, last_heartbeat, metadata)
                VALUES ({registration.ServerId}, {registration.Name}, {registration.GrpcAddress}, 'active',
                        {registration.AvailableSpace}, {registration.UsedSpace}, {registration.TotalChunks}, now(), {registration.Metadata}::jsonb)
                ON CONFLICT (server_id) DO UPDATE SET
                    name = EXCLUDED.name,
                    grpc_address = EXCLUDED.grpc_address,
                    -- A drain survives restarts: only an operator ends it.
                    status = CASE WHEN storage_servers.status = 'draining' THEN 'draining' ELSE 'active' END,
                    available_space = EXCLUDED.available_space,
                    used_space = EXCLUDED.used_space,
                    total_chunks = EXCLUDED.total_chunks,
                    last_heartbeat = EXCLUDED.last_heartbeat,
                    metadata = EXCLUDED.metadata
                """, cancellationToken);
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO hash_ring_nodes (server_id, virtual_node_index, hash_value)
                SELECT {registration.ServerId}, point.virtual_node_index, point.hash_value
                FROM unnest({indexes}, {hashes}) AS point(virtual_node_index, hash_value)
                ON CONFLICT (server_id, virtual_node_index) DO UPDATE SET hash_value = EXCLUDED.hash_value
                """, cancellationToken);
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"DELETE FROM hash_ring_nodes WHERE server_id = {registration.ServerId} AND virtual_node_index >= {virtualNodes}",
                cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        });
    }

    /// <summary>Records a heartbeat; false when the server is not registered (it must register again).</summary>
    public async Task<bool> HeartbeatAsync(Guid serverId, long availableSpace, long usedSpace, long totalChunks, CancellationToken cancellationToken)
    {
        var updated = await db.StorageServers
            .Where(s => s.ServerId == serverId)
            .ExecuteUpdateAsync(
                s => s
                    .SetProperty(x => x.AvailableSpace, availableSpace)
                    .SetProperty(x => x.UsedSpace, usedSpace)
                    .SetProperty(x => x.TotalChunks, totalChunks)
                    .SetProperty(x => x.LastHeartbeat, _ => DatabaseClock.Now()),
                cancellationToken);
        return updated == 1;
    }

    public async Task<bool> SetStatusAsync(Guid serverId, ServerStatus status, CancellationToken cancellationToken) =>
        await db.StorageServers
            .Where(s => s.ServerId == serverId)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, status), cancellationToken) == 1;

    /// <summary>Every server with its heartbeat age and whether it counts as live (heartbeat fresh, not inactive).</summary>
    public Task<List<ServerState>> GetServerStatesAsync(TimeSpan maxHeartbeatAge, CancellationToken cancellationToken) =>
        db.StorageServers.AsNoTracking()
            .OrderBy(s => s.Name)
            .Select(s => new ServerState(
                s.ServerId,
                s.Name,
                s.GrpcAddress,
                s.Status,
                s.Status != ServerStatus.Inactive && s.LastHeartbeat != null && s.LastHeartbeat >= DatabaseClock.Now() - maxHeartbeatAge,
                s.LastHeartbeat == null ? null : DatabaseClock.Now() - s.LastHeartbeat,
                s.AvailableSpace,
                s.UsedSpace,
                s.TotalChunks))
            .ToListAsync(cancellationToken);

    /// <summary>Active servers whose last heartbeat is at most <paramref name="maxHeartbeatAge"/> old.</summary>
    public Task<List<StorageServer>> GetLiveServersAsync(TimeSpan maxHeartbeatAge, CancellationToken cancellationToken) =>
        LiveServers(maxHeartbeatAge).AsNoTracking().OrderBy(s => s.Name).ToListAsync(cancellationToken);

    /// <summary>The ring of the live servers, from their stored points.</summary>
    public async Task<HashRing> LoadRingAsync(TimeSpan maxHeartbeatAge, CancellationToken cancellationToken)
    {
        var live = LiveServers(maxHeartbeatAge).Select(s => s.ServerId);
        var points = await db.HashRingNodes
            .AsNoTracking()
            .Where(n => live.Contains(n.ServerId))
            .Select(n => new { n.ServerId, n.VirtualNodeIndex, n.HashValue })
            .ToListAsync(cancellationToken);
        return HashRing.FromPoints(points.Select(p => new RingPoint(p.ServerId, p.VirtualNodeIndex, (uint)p.HashValue)));
    }

    // "Live" here is what the gateway calls placeable (NodeInfo.Placeable): active with a fresh
    // heartbeat. ServerState.Live, not inactive with a fresh heartbeat, is what it calls readable.
    private IQueryable<StorageServer> LiveServers(TimeSpan maxHeartbeatAge) =>
        db.StorageServers.Where(s =>
            s.Status == ServerStatus.Active
            && s.LastHeartbeat != null
            && s.LastHeartbeat >= DatabaseClock.Now() - maxHeartbeatAge);
}
