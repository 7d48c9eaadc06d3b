using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Cluster;

namespace S3Storage.Gateway.Maintenance;

/// <summary>Drain completion: a draining node is let go once every chunk it held has its copies on nodes that keep them.</summary>
public sealed partial class DrainCompleter(ClusterView cluster, ChunkRemover remover, IOptions<StorageOptions> storageOptions, ILogger<DrainCompleter> logger)
{
    /// <summary>A draining node whose every chunk has its full set of copies elsewhere is let go.</summary>
    public async Task CompleteDrainsAsync(MetadataDbContext db, ClusterSnapshot snapshot, RepairPass pass, CancellationToken cancellationToken)
    {
        var replicas = storageOptions.Value.ReplicationFactor;
        foreach (var node in snapshot.Nodes.Values.Where(n => n.Status == ServerStatus.Draining))
        {
            var held = await db.ChunkReplicas.AsNoTracking()
                .Where(r => r.ServerId == node.ServerId)
                .Select(r => new
                {
                    r.ChunkId,
                    Others = r.Chunk!.Replicas.Where(o => o.ServerId != node.ServerId && o.Status == ReplicaStatus.Stored).Select(o => o.ServerId).ToList(),
                })
                .ToListAsync(cancellationToken);
            var stillNeeded = held.Count(h => h.Others.Count(id => snapshot.Node(id) is { Keeps: true }) < replicas);
            if (stillNeeded > 0)
            {
                LogDrainWaiting(logger, node.Name, stillNeeded, held.Count);
                continue;
            }

            var chunkIds = held.Select(h => h.ChunkId).ToList();
            await db.ChunkReplicas.Where(r => r.ServerId == node.ServerId).ExecuteDeleteAsync(cancellationToken);
            await remover.RemoveAsync(chunkIds.Select(id => new ReplicaToRemove(id, node.ServerId)), cancellationToken);
            await db.StorageServers.Where(s => s.ServerId == node.ServerId && s.Status == ServerStatus.Draining)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, ServerStatus.Inactive), cancellationToken);
            pass.DrainsCompleted.Add(node.Name);
            cluster.RequestRefresh();
            LogDrained(logger, node.Name, chunkIds.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining {Node}: {Remaining} of its {Held} chunks still need copies elsewhere")]
    private static partial void LogDrainWaiting(ILogger logger, string node, int remaining, int held);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drained {Node}: its {Chunks} chunks live on other nodes; it is now inactive")]
    private static partial void LogDrained(ILogger logger, string node, int chunks);
}
