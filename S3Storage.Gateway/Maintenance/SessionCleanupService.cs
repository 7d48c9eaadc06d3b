using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Maintenance;

/// <summary>
/// Every <c>Uploads:CleanupInterval</c>, takes the upload sessions that went silent for
/// <c>Uploads:SessionTimeout</c> (client gone, gateway killed), deletes their chunks from every
/// live node and removes their rows. A session still receiving bytes is never touched: each
/// progress update pushes its expiry forward.
/// </summary>
public sealed partial class SessionCleanupService(
    IServiceScopeFactory scopes,
    ChunkRemover remover,
    GatewayMetrics metrics,
    IOptions<UploadOptions> options,
    ILogger<SessionCleanupService> logger) : BackgroundService
{
    private const int Batch = 100;

    private readonly Counter<long> _expired = metrics.Meter.CreateCounter<long>("s3storage.gateway.sessions.expired", "{session}", "Upload sessions expired and cleaned.");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CleanupInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                while (await CleanOnceAsync(stoppingToken) == Batch)
                {
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCleanupFailed(logger, e);
            }
        }
    }

    /// <summary>One batch; returns how many sessions it expired.</summary>
    public async Task<int> CleanOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
        var expired = await new UploadSessionStore(db).ExpireOverdueAsync(Batch, cancellationToken);
        foreach (var session in expired)
        {
            var file = await db.Files.AsNoTracking()
                .Where(f => f.FileId == session.FileId)
                .Select(f => new { f.UploadStatus, ChunkIds = f.Chunks.Select(c => c.ChunkId).ToList() })
                .SingleOrDefaultAsync(cancellationToken);
            if (file is null || file.UploadStatus == UploadStatus.Completed)
            {
                continue;
            }

            var removed = await remover.RemoveEverywhereAsync(file.ChunkIds, cancellationToken);
            await db.Files.Where(f => f.FileId == session.FileId && f.UploadStatus != UploadStatus.Completed).ExecuteDeleteAsync(cancellationToken);
            _expired.Add(1);
            LogExpired(logger, session.SessionId, session.FileId, removed);
        }

        return expired.Count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Expired upload session {SessionId}: file {FileId} removed, {Removed} node deletions confirmed")]
    private static partial void LogExpired(ILogger logger, Guid sessionId, Guid fileId, int removed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session cleanup failed")]
    private static partial void LogCleanupFailed(ILogger logger, Exception exception);
}
