using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;
using S3Storage.Gateway.Cluster;

namespace S3Storage.Gateway.Maintenance;

/// <summary>
/// Repair proper: gives every chunk of a page <c>Storage:ReplicationFactor</c> healthy copies
/// (stored, on a node that keeps them), copying from a readable copy to the nodes the ring
/// names, damaged copies on placeable nodes rewritten first, at most <c>Repair:BytesPerSecond</c>.
/// </summary>
public sealed partial class ReplicationRepairer(MaintenanceCopier copier, IOptions<StorageOptions> storageOptions, ILogger<ReplicationRepairer> logger)
{
    public async Task RestoreAsync(MetadataDbContext db, ClusterSnapshot snapshot, List<ChunkState> chunks, RepairPass pass, CopyThrottle throttle, CancellationToken cancellationToken)
    {
        var replicas = storageOptions.Value.ReplicationFactor;
        foreach (var chunk in chunks)
        {
            bool Healthy(Guid serverId, ReplicaStatus status) =>
                status == ReplicaStatus.Stored && snapshot.Node(serverId) is { Keeps: true };

            var healthy = chunk.Copies.Where(c => Healthy(c.ServerId, c.Status)).Select(c => c.ServerId).ToHashSet();
            if (healthy.Count >= replicas)
            {
                continue;
            }

            pass.UnderReplicated++;
            // Any stored copy on a node that answers can be the source, a draining one included.
            var source = chunk.Copies
                .Where(c => c.Status == ReplicaStatus.Stored && snapshot.Node(c.ServerId) is { Readable: true })
                .Select(c => snapshot.Node(c.ServerId)!)
                .OrderByDescending(n => n.Status == ServerStatus.Active)
                .FirstOrDefault();
            if (source is null || chunk.ChunkHash is null)
            {
                pass.Unrecoverable++;
                LogUnrecoverable(logger, chunk.ChunkId, chunk.FileId, chunk.ChunkNumber);
                continue;
            }

            var location = new ChunkLocation(chunk.ChunkId, chunk.FileId, chunk.ChunkNumber, chunk.ChunkSize, chunk.ChunkHash);
            // A live node holding a corrupt or missing copy is rewritten first (the node
            // replaces a copy it knows is bad): the bad copy goes and placement stays put.
            // Then the ring's order.
            var damaged = chunk.Copies
                .Where(c => c.Status != ReplicaStatus.Stored && snapshot.Node(c.ServerId) is { Placeable: true })
                .Select(c => c.ServerId);
            var targets = damaged
                .Concat(snapshot.Ring.Locate(HashRing.ChunkKey(chunk.FileId, chunk.ChunkNumber), snapshot.Ring.ServerCount))
                .Distinct()
                .Where(id => !healthy.Contains(id))
                .Select(id => snapshot.Node(id)!)
                .ToList();
            foreach (var target in targets)
            {
                if (healthy.Count >= replicas)
                {
                    break;
                }

                if (await copier.CopyAsync(db, location, source, target, cancellationToken))
                {
                    healthy.Add(target.ServerId);
                    pass.Repaired++;
                    pass.BytesCopied += chunk.ChunkSize;
                    await throttle.ChargeAsync(chunk.ChunkSize, cancellationToken);
                }
                else
                {
                    pass.Failed++;
                }
            }
        }

    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Chunk {ChunkId} (file {FileId}, chunk {ChunkNumber}) has no readable copy left")]
    private static partial void LogUnrecoverable(ILogger logger, Guid chunkId, Guid fileId, int chunkNumber);
}
