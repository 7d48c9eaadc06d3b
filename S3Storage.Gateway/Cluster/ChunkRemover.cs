using Grpc.Core;
using S3Storage.Contracts.Storage;

namespace S3Storage.Gateway.Cluster;

/// <summary>A chunk copy to delete from a node.</summary>
public sealed record ReplicaToRemove(Guid ChunkId, Guid ServerId);

/// <summary>
/// Deletes chunk copies from their nodes, best effort and in parallel: what a down node keeps
/// is an orphan that garbage collection removes later.
/// </summary>
public sealed partial class ChunkRemover(NodeClients clients, ClusterView cluster, ILogger<ChunkRemover> logger)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Deletes the chunks from every live node: for uploads that died before recording where
    /// every copy went. Deleting is idempotent, so asking a node without the chunk costs one call.
    /// </summary>
    public Task<int> RemoveEverywhereAsync(IReadOnlyCollection<Guid> chunkIds, CancellationToken cancellationToken)
    {
        var nodes = cluster.Current.Nodes.Values.Where(n => n.Readable).ToList();
        return RemoveAsync(chunkIds.SelectMany(chunk => nodes.Select(node => new ReplicaToRemove(chunk, node.ServerId))), cancellationToken);
    }

    /// <summary>Returns how many copies were confirmed gone.</summary>
    public async Task<int> RemoveAsync(IEnumerable<ReplicaToRemove> replicas, CancellationToken cancellationToken)
    {
        var snapshot = cluster.Current;
        var removals = replicas.Distinct().Select(async replica =>
        {
            if (snapshot.Node(replica.ServerId) is not { } node)
            {
                return false;
            }

            try
            {
                await clients.For(node).DeleteChunkAsync(
                    new DeleteChunkRequest { ChunkId = replica.ChunkId.ToString("D") },
                    deadline: DateTime.UtcNow.Add(CallTimeout),
                    cancellationToken: cancellationToken);
                return true;
            }
            catch (RpcException e)
            {
                LogRemoveFailed(logger, replica.ChunkId, node.Name, e.Status.Detail);
                return false;
            }
        });
        return (await Task.WhenAll(removals)).Count(removed => removed);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete chunk {ChunkId} from {Node}: {Reason}; it is left for garbage collection")]
    private static partial void LogRemoveFailed(ILogger logger, Guid chunkId, string node, string reason);
}
