using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Maintenance;

namespace S3Storage.Gateway.Cluster;

/// <summary>
/// Records what a failed node call revealed about one copy: DataLoss means the copy is corrupt,
/// NotFound that it is missing. Repair then counts it out and copies the chunk back.
/// </summary>
public sealed partial class ReplicaStatusRecorder(IServiceScopeFactory scopes, RepairRequests repairs, ILogger<ReplicaStatusRecorder> logger)
{
    public static ReplicaStatus? StatusFor(Exception failure) =>
        failure is Grpc.Core.RpcException rpc
            ? rpc.StatusCode switch
            {
                Grpc.Core.StatusCode.DataLoss => ReplicaStatus.Corrupt,
                Grpc.Core.StatusCode.NotFound => ReplicaStatus.Missing,
                _ => null,
            }
            : null;

    public async Task RecordAsync(Guid chunkId, NodeInfo node, ReplicaStatus status)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
            var changed = await db.ChunkReplicas
                .Where(r => r.ChunkId == chunkId && r.ServerId == node.ServerId && r.Status == ReplicaStatus.Stored)
                .ExecuteUpdateAsync(r => r.SetProperty(x => x.Status, status), CancellationToken.None);
            if (changed > 0)
            {
                LogRecorded(logger, chunkId, node.Name, status);
                repairs.Request();
            }
        }
        catch (Exception e) when (e is DbUpdateException or Npgsql.NpgsqlException or InvalidOperationException)
        {
            LogFailed(logger, e, chunkId, node.Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Copy of chunk {ChunkId} on {Node} is now {Status}; repair will replace it")]
    private static partial void LogRecorded(ILogger logger, Guid chunkId, string node, ReplicaStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the state of chunk {ChunkId} on {Node}")]
    private static partial void LogFailed(ILogger logger, Exception exception, Guid chunkId, string node);
}
