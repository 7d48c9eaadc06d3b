using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Gateway.Uploads;

/// <summary>
/// Keeps an upload's session current while this gateway works on it, on a timer beside the
/// byte loop rather than inside it: publishes the bytes received (and moves the file from
/// pending to uploading once bytes flow), and pushes the session's expiry forward, so only a
/// gateway that died lets a session expire. An upload done within its first tick writes
/// nothing here: its creation and completion say it all, two commits for a small file.
/// </summary>
public sealed partial class UploadSessionKeeper(IServiceScopeFactory scopes, IOptions<UploadOptions> options, ILogger<UploadSessionKeeper> logger)
{
    /// <summary>How often progress is published while bytes flow.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    /// <summary>Starts keeping the session; dispose the result when the upload has ended.</summary>
    public KeptSession Keep(Guid fileId, Guid sessionId, UploadSource source) => new(scopes, options.Value.SessionTimeout, logger, fileId, sessionId, source);

    /// <summary>One upload's session being kept; <see cref="Expired"/> is cancelled if the cleanup job took it meanwhile.</summary>
    public sealed class KeptSession : IAsyncDisposable
    {
        private readonly IServiceScopeFactory _scopes;
        private readonly TimeSpan _timeout;
        private readonly ILogger _logger;
        private readonly Guid _fileId;
        private readonly Guid _sessionId;
        private readonly UploadSource _source;
        private readonly CancellationTokenSource _expired = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _keeping;

        internal KeptSession(IServiceScopeFactory scopes, TimeSpan timeout, ILogger logger, Guid fileId, Guid sessionId, UploadSource source)
        {
            _scopes = scopes;
            _timeout = timeout;
            _logger = logger;
            _fileId = fileId;
            _sessionId = sessionId;
            _source = source;
            _keeping = KeepAsync(_stop.Token);
        }

        /// <summary>Cancelled once the session is found expired: the upload can no longer complete.</summary>
        public CancellationToken Expired => _expired.Token;

        public bool HasExpired => _expired.IsCancellationRequested;

        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync();
                await _keeping;
            }

            _stop.Dispose();
            _expired.Dispose();
        }

        private async Task KeepAsync(CancellationToken stop)
        {
            var timeout = _timeout;
            var extendEvery = timeout / 3;
            using var timer = new PeriodicTimer(extendEvery < ProgressInterval ? extendEvery : ProgressInterval);
            var published = 0L;
            var extendedAt = Stopwatch.GetTimestamp();
            var markedUploading = false;
            try
            {
                while (await timer.WaitForNextTickAsync(stop))
                {
                    var received = _source.Received;
                    var flowing = received != published;
                    if (!flowing && Stopwatch.GetElapsedTime(extendedAt) < extendEvery)
                    {
                        continue;
                    }

                    try
                    {
                        await using var scope = _scopes.CreateAsyncScope();
                        var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
                        if (!markedUploading && received > 0)
                        {
                            await db.Files.Where(f => f.FileId == _fileId && f.UploadStatus == UploadStatus.Pending)
                                .ExecuteUpdateAsync(f => f.SetProperty(x => x.UploadStatus, UploadStatus.Uploading), stop);
                            markedUploading = true;
                        }

                        var now = DateTimeOffset.UtcNow;
                        var expiresAt = now + timeout;
                        var active = db.UploadSessions.Where(s => s.SessionId == _sessionId && s.Status == SessionStatus.Active);
                        var kept = flowing
                            ? await active.ExecuteUpdateAsync(
                                s => s.SetProperty(x => x.BytesReceived, received).SetProperty(x => x.LastActivity, now).SetProperty(x => x.ExpiresAt, expiresAt),
                                stop)
                            : await active.ExecuteUpdateAsync(s => s.SetProperty(x => x.ExpiresAt, expiresAt), stop);
                        if (kept == 0)
                        {
                            await _expired.CancelAsync();
                            return;
                        }

                        published = received;
                        extendedAt = Stopwatch.GetTimestamp();
                    }
                    catch (Exception e) when (!stop.IsCancellationRequested)
                    {
                        // One missed tick is no loss: the session still has most of its time, and
                        // the next tick tries again. Giving up would let a database hiccup expire
                        // an upload that is still streaming.
                        LogKeepFailed(_logger, e, _sessionId);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update upload session {SessionId}; trying again at the next tick")]
    private static partial void LogKeepFailed(ILogger logger, Exception exception, Guid sessionId);
}
