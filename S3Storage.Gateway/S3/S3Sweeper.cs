using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Metadata;
using S3Storage.Gateway.Files;
using S3Storage.Gateway.S3.Multipart;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.S3;

/// <summary>
/// Every <c>Uploads:CleanupInterval</c>: deletes blobs released more than <c>S3:ReleasedBlobGrace</c>
/// ago (their gateway died before deleting them), aborts multipart uploads older than
/// <c>S3:AbandonedUploadAge</c>, and forgets completed uploads after <c>S3:CompletedUploadRetention</c>.
/// Each step is idempotent, so gateways sweeping at once only repeat each other.
/// </summary>
public sealed partial class S3Sweeper(
    IServiceScopeFactory scopes,
    GatewayMetrics metrics,
    IOptions<UploadOptions> uploadOptions,
    IOptions<S3Options> options,
    ILogger<S3Sweeper> logger) : BackgroundService
{
    private const int Batch = 100;

    private readonly Counter<long> _swept = metrics.Meter.CreateCounter<long>("s3storage.gateway.s3.swept", "{item}", "Released blobs deleted and abandoned multipart uploads aborted by the sweep.");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(uploadOptions.Value.CleanupInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogSweepFailed(logger, e);
            }
        }
    }

    public async Task SweepOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
        var deleter = scope.ServiceProvider.GetRequiredService<FileDeleter>();
        var now = DateTimeOffset.UtcNow;

        var abandonedBefore = now - options.Value.AbandonedUploadAge;
        var abandoned = await db.MultipartUploads.AsNoTracking()
            .Where(u => u.CompletedAt == null && u.CreatedAt < abandonedBefore)
            .OrderBy(u => u.CreatedAt).Take(Batch)
            .Select(u => new { u.UploadId, u.BucketName, u.Key })
            .ToListAsync(cancellationToken);
        foreach (var upload in abandoned)
        {
            await db.Database.CreateExecutionStrategy().ExecuteAsync(
                async ct =>
                {
                    await using var transaction = await db.Database.BeginTransactionAsync(ct);
                    await MultipartUploads.ReleaseUploadAsync(db, upload.UploadId, upload.BucketName, upload.Key, ct);
                    await transaction.CommitAsync(ct);
                },
                cancellationToken);
            _swept.Add(1, new KeyValuePair<string, object?>("kind", "abandoned_upload"));
            LogAborted(logger, upload.UploadId, upload.BucketName, upload.Key);
        }

        var forgetBefore = now - options.Value.CompletedUploadRetention;
        await db.MultipartUploads.Where(u => u.CompletedAt != null && u.CompletedAt < forgetBefore).ExecuteDeleteAsync(cancellationToken);

        // Blobs released just now are being deleted by their own request: the grace leaves them to it.
        var releasedBefore = now - options.Value.ReleasedBlobGrace;
        var released = await db.ReleasedBlobs.AsNoTracking()
            .Where(r => r.ReleasedAt <= releasedBefore)
            .OrderBy(r => r.ReleasedAt).Take(Batch)
            .Select(r => r.FileId)
            .ToListAsync(cancellationToken);
        foreach (var fileId in released)
        {
            if (await deleter.DeleteAsync(fileId, cancellationToken) == DeleteOutcome.InUse)
            {
                // Released by mistake (an object or part points at it again): not garbage.
                await db.ReleasedBlobs.Where(r => r.FileId == fileId).ExecuteDeleteAsync(cancellationToken);
                continue;
            }

            _swept.Add(1, new KeyValuePair<string, object?>("kind", "released_blob"));
        }

        if (released.Count > 0)
        {
            LogReleasedDeleted(logger, released.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Aborted abandoned multipart upload {UploadId} of {Bucket}/{Key}")]
    private static partial void LogAborted(ILogger logger, string uploadId, string bucket, string key);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} blobs released by a gateway that did not delete them")]
    private static partial void LogReleasedDeleted(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "S3 sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
