using System.Diagnostics.Metrics;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Maintenance;

/// <summary>One maintenance copy of a chunk from a node that holds it to one that should, with its row kept in step (metrics <c>s3storage.gateway.repair.bytes</c> and <c>.chunks</c>).</summary>
public sealed partial class MaintenanceCopier(ChunkCopier copier, GatewayMetrics metrics, ILogger<MaintenanceCopier> logger)
{
    private readonly Counter<long> _bytesRepaired = metrics.Meter.CreateCounter<long>("s3storage.gateway.repair.bytes", "By", "Bytes copied by repair.");
    private readonly Counter<long> _chunksRepaired = metrics.Meter.CreateCounter<long>("s3storage.gateway.repair.chunks", "{chunk}", "Chunk copies made by repair.");

    public async Task<bool> CopyAsync(MetadataDbContext db, ChunkLocation chunk, NodeInfo source, NodeInfo target, CancellationToken cancellationToken)
    {
        // Recorded before the bytes move, so a crash mid-copy leaves a row that says where to look.
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO chunk_replicas (chunk_id, server_id, status, created_at)
            VALUES ({chunk.ChunkId}, {target.ServerId}, 'pending', now())
            ON CONFLICT (chunk_id, server_id) DO UPDATE SET status = 'pending'
            """, cancellationToken);
        try
        {
            await copier.CopyAsync(chunk, source, target, cancellationToken);
        }
        catch (Exception e) when (e is RpcException or IOException or InvalidOperationException)
        {
            await db.ChunkReplicas.Where(r => r.ChunkId == chunk.ChunkId && r.ServerId == target.ServerId)
                .ExecuteUpdateAsync(r => r.SetProperty(x => x.Status, ReplicaStatus.Missing), cancellationToken);
            LogCopyFailed(logger, e, chunk.ChunkId, source.Name, target.Name);
            return false;
        }

        var now = DateTimeOffset.UtcNow;
        await db.ChunkReplicas.Where(r => r.ChunkId == chunk.ChunkId && r.ServerId == target.ServerId)
            .ExecuteUpdateAsync(r => r.SetProperty(x => x.Status, ReplicaStatus.Stored).SetProperty(x => x.VerifiedAt, now), cancellationToken);
        _bytesRepaired.Add(chunk.Size);
        _chunksRepaired.Add(1);
        LogCopied(logger, chunk.ChunkId, chunk.ChunkNumber, source.Name, target.Name, chunk.Size);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Copied chunk {ChunkId} (number {ChunkNumber}) from {Source} to {Target}: {Bytes} bytes")]
    private static partial void LogCopied(ILogger logger, Guid chunkId, int chunkNumber, string source, string target, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Copying chunk {ChunkId} from {Source} to {Target} failed")]
    private static partial void LogCopyFailed(ILogger logger, Exception exception, Guid chunkId, string source, string target);
}
