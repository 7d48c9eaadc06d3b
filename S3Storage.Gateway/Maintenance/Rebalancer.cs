using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;
using S3Storage.Gateway.Cluster;

namespace S3Storage.Gateway.Maintenance;

/// <summary>Rebalancing (<c>Repair:Rebalance</c>): moves copies onto the nodes the ring names for them, so a node that joins takes its share of the existing chunks.</summary>
public sealed class Rebalancer(MaintenanceCopier copier, ChunkRemover remover, IOptions<StorageOptions> storageOptions)
{
    /// <summary>
    /// For chunks with their full set of healthy copies, puts each copy where the ring says:
    /// copy to the ring's node first, then drop the copy that is off the ring's choice.
    /// </summary>
    public async Task RebalanceAsync(
        MetadataDbContext db,
        ClusterSnapshot snapshot,
        List<ChunkState> chunks,
        RepairPass pass,
        CopyThrottle throttle,
        CancellationToken cancellationToken)
    {
        var replicas = storageOptions.Value.ReplicationFactor;
        foreach (var chunk in chunks)
        {
            var healthy = chunk.Copies
                .Where(c => c.Status == ReplicaStatus.Stored && snapshot.Node(c.ServerId) is { Keeps: true })
                .Select(c => c.ServerId)
                .ToHashSet();
            if (healthy.Count < replicas || chunk.ChunkHash is null)
            {
                // Still short of copies: repair's job above.
                continue;
            }

            var preferred = snapshot.Ring.Locate(HashRing.ChunkKey(chunk.FileId, chunk.ChunkNumber), replicas);
            // A node that came back after its chunks were re-created elsewhere leaves one copy
            // too many: keep the ring's choice and drop the rest.
            foreach (var extra in healthy.Where(id => !preferred.Contains(id)).ToList())
            {
                if (healthy.Count <= replicas)
                {
                    break;
                }

                await db.ChunkReplicas.Where(r => r.ChunkId == chunk.ChunkId && r.ServerId == extra).ExecuteDeleteAsync(cancellationToken);
                await remover.RemoveAsync([new ReplicaToRemove(chunk.ChunkId, extra)], cancellationToken);
                healthy.Remove(extra);
                pass.Rebalanced++;
            }

            var missing = preferred.Where(id => !healthy.Contains(id)).ToList();
            if (missing.Count == 0)
            {
                continue;
            }

            var location = new ChunkLocation(chunk.ChunkId, chunk.FileId, chunk.ChunkNumber, chunk.ChunkSize, chunk.ChunkHash);
            var source = snapshot.Node(healthy.First())!;
            foreach (var target in missing.Select(id => snapshot.Node(id)!))
            {
                var extra = healthy.FirstOrDefault(id => !preferred.Contains(id));
                if (extra == Guid.Empty)
                {
                    break;
                }

                if (!await copier.CopyAsync(db, location, source, target, cancellationToken))
                {
                    pass.Incomplete = true;
                    break;
                }

                // Rows first: no read is ever sent to a copy that is about to disappear.
                await db.ChunkReplicas.Where(r => r.ChunkId == chunk.ChunkId && r.ServerId == extra).ExecuteDeleteAsync(cancellationToken);
                await remover.RemoveAsync([new ReplicaToRemove(chunk.ChunkId, extra)], cancellationToken);
                healthy.Remove(extra);
                healthy.Add(target.ServerId);
                if (extra == source.ServerId)
                {
                    source = target;
                }

                pass.Rebalanced++;
                pass.BytesCopied += chunk.ChunkSize;
                await throttle.ChargeAsync(chunk.ChunkSize, cancellationToken);
            }
        }
    }
}
