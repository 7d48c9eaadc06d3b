using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Uploads;

/// <summary>The cleanup job expired the upload's session while it ran.</summary>
public sealed class UploadExpiredException(string message) : Exception(message);

/// <summary>What the client gets back for a stored file.</summary>
public sealed record UploadedFile(Guid FileId, string Filename, string ContentType, long Size, string Sha256, int ChunkCount);

/// <summary>
/// The upload path, request → placement → transfer → commit: one transaction creates the file,
/// its chunks, their planned replicas and the upload session; the body streams through the six
/// chunks to their replicas; the file is marked completed only once every chunk has
/// <c>Storage:ReplicationFactor</c> acknowledged copies.
/// </summary>
public sealed partial class FileUploader(
    MetadataDbContext db,
    IServiceScopeFactory scopes,
    ClusterView cluster,
    ChunkWriter writer,
    ChunkCopier copier,
    ChunkRemover remover,
    GatewayMetrics metrics,
    IOptions<StorageOptions> storageOptions,
    IOptions<UploadOptions> uploadOptions,
    ILogger<FileUploader> logger)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    public async Task<UploadedFile> UploadAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var storage = storageOptions.Value;
        var body = await UploadBody.OpenAsync(context.Request, storage.MaxFileSize, cancellationToken);
        var plan = ChunkPlanner.Plan(body.Length, storage.MaxFileSize);
        var snapshot = cluster.Current;
        var replicas = storage.ReplicationFactor;
        if (snapshot.LiveCount < replicas)
        {
            cluster.RequestRefresh();
            throw new NoNodesAvailableException($"{snapshot.LiveCount} storage nodes are live; each chunk needs {replicas} distinct nodes.");
        }

        using var activity = GatewayMetrics.ActivitySource.StartActivity("upload");
        using var _ = metrics.TrackUpload();
        var started = Stopwatch.GetTimestamp();
        var upload = await CreateAsync(context, body, plan, snapshot, replicas, cancellationToken);
        activity?.SetTag("s3storage.file_id", upload.File.FileId);
        activity?.SetTag("s3storage.file_size", body.Length);
        var sent = new List<SentChunk>(ChunkPlanner.ChunksPerFile);
        using var keepAlive = new CancellationTokenSource();
        var keepingAlive = KeepSessionAliveAsync(upload.Session.SessionId, keepAlive.Token);
        try
        {
            using var fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var progress = new Progress(db, upload.File.FileId, upload.Session.SessionId, uploadOptions.Value.SessionTimeout);
            foreach (var chunk in upload.File.Chunks.OrderBy(c => c.ChunkNumber))
            {
                var range = plan.Chunks[chunk.ChunkNumber];
                var chunkSent = await writer.WriteAsync(
                    upload.File.FileId, chunk.ChunkId, range, upload.Candidates[chunk.ChunkNumber], replicas, body, fileHash, progress.AddAsync, cancellationToken);
                sent.Add(chunkSent);
                await RecordUnplannedTargetsAsync(chunk, chunkSent.Targets, cancellationToken);
            }

            await body.ReadEndAsync(cancellationToken);
            var sha256 = Convert.ToHexStringLower(fileHash.GetHashAndReset());
            var stored = new Dictionary<int, IReadOnlyList<NodeInfo>>();
            foreach (var chunkSent in sent)
            {
                stored[chunkSent.Range.Number] = await EnsureReplicasAsync(upload, chunkSent, replicas, cancellationToken);
            }

            await CompleteAsync(upload, sent, stored, sha256, cancellationToken);
            metrics.Operation("upload", "completed", Stopwatch.GetElapsedTime(started));
            LogUploaded(logger, upload.File.FileId, upload.File.Filename, body.Length, Stopwatch.GetElapsedTime(started).TotalSeconds);
            return new UploadedFile(upload.File.FileId, upload.File.Filename, upload.File.ContentType, body.Length, sha256, ChunkPlanner.ChunksPerFile);
        }
        catch (Exception e)
        {
            var clientGone = cancellationToken.IsCancellationRequested;
            metrics.Operation("upload", clientGone ? "cancelled" : "failed", Stopwatch.GetElapsedTime(started));
            metrics.Error("upload", clientGone ? "client_disconnected" : e.GetType().Name);
            if (clientGone)
            {
                // Not a fault of the store: no stack trace for a client that hung up.
                LogUploadCancelled(logger, upload.File.FileId);
            }
            else
            {
                LogUploadFailed(logger, e, upload.File.FileId);
            }

            await AbandonAsync(upload, sent, clientGone);
            throw;
        }
        finally
        {
            await keepAlive.CancelAsync();
            await keepingAlive;
        }
    }

    /// <summary>
    /// While this gateway works on the upload (streaming, waiting for nodes to store, copying to
    /// full replication) it keeps the session from expiring; only a gateway that died stops
    /// doing so, and then the cleanup job takes the upload. Runs on its own DbContext: the
    /// request's is busy with the upload itself.
    /// </summary>
    private async Task KeepSessionAliveAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        var timeout = uploadOptions.Value.SessionTimeout;
        using var timer = new PeriodicTimer(timeout / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var sessions = scope.ServiceProvider.GetRequiredService<MetadataDbContext>().UploadSessions;
                    var expiresAt = DateTimeOffset.UtcNow + timeout;
                    await sessions.Where(s => s.SessionId == sessionId && s.Status == SessionStatus.Active)
                        .ExecuteUpdateAsync(s => s.SetProperty(x => x.ExpiresAt, expiresAt), cancellationToken);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    // One missed extension is no loss: the session still has two thirds of its
                    // time, and the next tick tries again. Giving up here would let a database
                    // hiccup expire an upload that is still streaming.
                    LogKeepAliveFailed(logger, e, sessionId);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private sealed record Upload(StoredFile File, UploadSession Session, IReadOnlyList<IReadOnlyList<NodeInfo>> Candidates);

    private async Task<Upload> CreateAsync(HttpContext context, UploadBody body, ChunkPlan plan, ClusterSnapshot snapshot, int replicas, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var file = new StoredFile
        {
            FileId = Guid.CreateVersion7(),
            Filename = body.Filename,
            ContentType = body.ContentType,
            TotalSize = body.Length,
            ChunkSize = plan.ChunkSize,
        };
        var candidates = new List<IReadOnlyList<NodeInfo>>(ChunkPlanner.ChunksPerFile);
        foreach (var range in plan.Chunks)
        {
            // Chunk ids are random, not time-ordered: nodes fan them out over chunks/ab/cd by their first digits.
            var chunk = new StoredChunk { ChunkId = Guid.NewGuid(), FileId = file.FileId, ChunkNumber = range.Number, ChunkSize = range.Length };
            var ringOrder = snapshot.Ring.Locate(HashRing.ChunkKey(file.FileId, range.Number), snapshot.Ring.ServerCount)
                .Select(id => snapshot.Node(id)!)
                .ToList();
            candidates.Add(ringOrder);
            // Planned copies are recorded before any byte moves, so a crashed upload can be cleaned.
            chunk.Replicas.AddRange(ringOrder.Take(replicas).Select(node => new ChunkReplica { ChunkId = chunk.ChunkId, ServerId = node.ServerId }));
            file.Chunks.Add(chunk);
        }

        var session = new UploadSession
        {
            SessionId = Guid.NewGuid(),
            FileId = file.FileId,
            ClientIp = context.Connection.RemoteIpAddress,
            StartedAt = now,
            LastActivity = now,
            ExpiresAt = now + uploadOptions.Value.SessionTimeout,
        };
        db.Files.Add(file);
        db.UploadSessions.Add(session);
        // One SaveChanges is one transaction: file, chunks, replicas and session appear together.
        // A connection lost around the COMMIT leaves its outcome unknown, and the retry would
        // insert the same rows again (duplicate key): the retry first asks whether the file's
        // row is there, and if so the first attempt committed.
        await db.Database.CreateExecutionStrategy().ExecuteInTransactionAsync(
            (db, cancellationToken),
            static (state, _) => state.db.SaveChangesAsync(acceptAllChangesOnSuccess: false, state.cancellationToken),
            (state, _) => state.db.Files.AsNoTracking().AnyAsync(f => f.FileId == file.FileId, state.cancellationToken),
            cancellationToken);
        db.ChangeTracker.AcceptAllChanges();
        return new Upload(file, session, candidates);
    }

    /// <summary>Copies whose node was not the planned one are recorded where they really are, before they are acknowledged.</summary>
    private async Task RecordUnplannedTargetsAsync(StoredChunk chunk, IReadOnlyList<NodeInfo> targets, CancellationToken cancellationToken)
    {
        var added = false;
        foreach (var target in targets.Where(t => chunk.Replicas.All(r => r.ServerId != t.ServerId)))
        {
            chunk.Replicas.Add(new ChunkReplica { ChunkId = chunk.ChunkId, ServerId = target.ServerId });
            added = true;
        }

        if (added)
        {
            await db.SaveChangesAsync(cancellationToken);
        }
    }

    /// <summary>Waits for the nodes to store the chunk; copies it to further nodes until it has <paramref name="replicas"/> copies.</summary>
    private async Task<IReadOnlyList<NodeInfo>> EnsureReplicasAsync(Upload upload, SentChunk sent, int replicas, CancellationToken cancellationToken)
    {
        var stored = (await sent.Acknowledged).ToList();
        if (stored.Count == 0)
        {
            throw new NoNodesAvailableException($"No node stored chunk {sent.Range.Number}.");
        }

        var chunk = upload.File.Chunks.Single(c => c.ChunkNumber == sent.Range.Number);
        var location = new ChunkLocation(sent.ChunkId, upload.File.FileId, sent.Range.Number, sent.Range.Length, sent.Sha256);
        var tried = sent.Targets.Select(t => t.ServerId).ToHashSet();
        foreach (var target in upload.Candidates[sent.Range.Number].Where(c => !tried.Contains(c.ServerId)))
        {
            if (stored.Count >= replicas)
            {
                break;
            }

            chunk.Replicas.Add(new ChunkReplica { ChunkId = chunk.ChunkId, ServerId = target.ServerId });
            await db.SaveChangesAsync(cancellationToken);
            if (await TryCopyAsync(location, stored[0], target, cancellationToken))
            {
                stored.Add(target);
            }
        }

        return stored.Count >= replicas
            ? stored
            : throw new NoNodesAvailableException($"Chunk {sent.Range.Number} has {stored.Count} of its {replicas} copies and no further node took one.");
    }

    private async Task<bool> TryCopyAsync(ChunkLocation chunk, NodeInfo source, NodeInfo target, CancellationToken cancellationToken)
    {
        var options = uploadOptions.Value;
        var delay = options.RetryDelay;
        for (var attempt = 1; attempt <= options.NodeAttempts; attempt++)
        {
            try
            {
                await copier.CopyAsync(chunk, source, target, cancellationToken);
                LogCopied(logger, chunk.ChunkNumber, source.Name, target.Name);
                return true;
            }
            catch (Exception e) when (e is Grpc.Core.RpcException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogCopyFailed(logger, e, chunk.ChunkNumber, target.Name, attempt);
                await Task.Delay(delay, cancellationToken);
                delay *= 2;
            }
        }

        metrics.Failover("upload");
        cluster.RequestRefresh();
        return false;
    }

    private async Task CompleteAsync(Upload upload, IReadOnlyList<SentChunk> sent, IReadOnlyDictionary<int, IReadOnlyList<NodeInfo>> stored, string sha256, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var chunk in upload.File.Chunks)
        {
            var chunkSent = sent.Single(s => s.Range.Number == chunk.ChunkNumber);
            var holders = stored[chunk.ChunkNumber].Select(n => n.ServerId).ToHashSet();
            chunk.ChunkHash = chunkSent.Sha256;
            chunk.UploadStatus = UploadStatus.Completed;
            chunk.UploadedAt = now;
            foreach (var replica in chunk.Replicas.ToList())
            {
                if (holders.Contains(replica.ServerId))
                {
                    replica.Status = ReplicaStatus.Stored;
                    replica.VerifiedAt = now;
                }
                else
                {
                    // Only copies the nodes acknowledged are recorded: a planned node that
                    // failed holds nothing of this chunk.
                    chunk.Replicas.Remove(replica);
                    db.ChunkReplicas.Remove(replica);
                }
            }
        }

        upload.File.UploadStatus = UploadStatus.Completed;
        upload.File.Checksum = sha256;
        upload.File.CompletedAt = now;
        var strategy = db.Database.CreateExecutionStrategy();
        await strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            // Claiming the session in the same transaction means an upload the cleanup job has
            // already expired can never turn into a completed file.
            var claimed = await db.UploadSessions
                .Where(s => s.SessionId == upload.Session.SessionId && s.Status == SessionStatus.Active)
                .ExecuteUpdateAsync(
                    s => s.SetProperty(x => x.Status, SessionStatus.Completed)
                        .SetProperty(x => x.BytesReceived, upload.File.TotalSize)
                        .SetProperty(x => x.LastActivity, now),
                    cancellationToken);
            if (claimed == 0)
            {
                throw new UploadExpiredException($"The upload session {upload.Session.SessionId} expired before the upload finished.");
            }

            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        });
        db.Entry(upload.Session).State = EntityState.Detached;
    }

    /// <summary>
    /// A failed or abandoned upload: its copies are deleted from the nodes and it is marked
    /// failed, so it is never listed as a file that can be read.
    /// </summary>
    private async Task AbandonAsync(Upload upload, IReadOnlyList<SentChunk> sent, bool clientGone)
    {
        try
        {
            // Let nodes finish or drop what they were storing before deleting it.
            await Task.WhenAll(sent.Select(s => s.Acknowledged)).WaitAsync(uploadOptions.Value.StallTimeout * 4);
        }
        catch (TimeoutException)
        {
        }

        var copies = upload.File.Chunks.SelectMany(c => c.Replicas).Select(r => new ReplicaToRemove(r.ChunkId, r.ServerId)).ToList();
        await remover.RemoveAsync(copies, CancellationToken.None);

        try
        {
            foreach (var chunk in upload.File.Chunks)
            {
                chunk.UploadStatus = UploadStatus.Failed;
                db.ChunkReplicas.RemoveRange(chunk.Replicas);
            }

            upload.File.UploadStatus = UploadStatus.Failed;
            if (db.Entry(upload.Session).State != EntityState.Detached)
            {
                upload.Session.Status = clientGone ? SessionStatus.Cancelled : SessionStatus.Completed;
                upload.Session.LastActivity = DateTimeOffset.UtcNow;
            }

            await db.SaveChangesAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or Npgsql.NpgsqlException)
        {
            // The session stays active and expires: the cleanup job removes the upload then.
            LogAbandonFailed(logger, e, upload.File.FileId);
        }
    }

    /// <summary>
    /// Publishes the bytes received on the session, and moves the file from pending to
    /// uploading, once bytes have been flowing for a second, then at most once a second. An
    /// upload that finishes within its first second writes no progress at all: completion
    /// records it, and a small file costs two commits instead of five.
    /// </summary>
    private sealed class Progress(MetadataDbContext db, Guid fileId, Guid sessionId, TimeSpan sessionTimeout)
    {
        private long _received;
        private long _lastWrite;
        private bool _markedUploading;

        public async Task AddAsync(long bytes, CancellationToken cancellationToken)
        {
            _received += bytes;
            if (_lastWrite == 0)
            {
                _lastWrite = Stopwatch.GetTimestamp();
                return;
            }

            if (Stopwatch.GetElapsedTime(_lastWrite) < ProgressInterval)
            {
                return;
            }

            _lastWrite = Stopwatch.GetTimestamp();
            if (!_markedUploading)
            {
                _markedUploading = true;
                await db.Files.Where(f => f.FileId == fileId && f.UploadStatus == UploadStatus.Pending).ExecuteUpdateAsync(
                    f => f.SetProperty(x => x.UploadStatus, UploadStatus.Uploading),
                    cancellationToken);
            }

            var received = _received;
            var now = DateTimeOffset.UtcNow;
            // Bytes still flowing keep the session alive: only a silent upload expires.
            var expiresAt = now + sessionTimeout;
            var active = await db.UploadSessions.Where(s => s.SessionId == sessionId && s.Status == SessionStatus.Active).ExecuteUpdateAsync(
                s => s.SetProperty(x => x.BytesReceived, received).SetProperty(x => x.LastActivity, now).SetProperty(x => x.ExpiresAt, expiresAt),
                cancellationToken);
            if (active == 0)
            {
                throw new UploadExpiredException($"The upload session {sessionId} expired and was cleaned up.");
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not extend upload session {SessionId}; trying again at the next tick")]
    private static partial void LogKeepAliveFailed(ILogger logger, Exception exception, Guid sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored file {FileId} ({Filename}, {Size} bytes) in {Seconds:F2} s")]
    private static partial void LogUploaded(ILogger logger, Guid fileId, string filename, long size, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload of {FileId} failed")]
    private static partial void LogUploadFailed(ILogger logger, Exception exception, Guid fileId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upload of {FileId} cancelled: the client went away")]
    private static partial void LogUploadCancelled(ILogger logger, Guid fileId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Copied chunk {ChunkNumber} from {Source} to {Target} to reach full replication")]
    private static partial void LogCopied(ILogger logger, int chunkNumber, string source, string target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Copying chunk {ChunkNumber} to {Target} failed (attempt {Attempt})")]
    private static partial void LogCopyFailed(ILogger logger, Exception exception, int chunkNumber, string target, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not mark upload {FileId} failed; its session will expire and be cleaned")]
    private static partial void LogAbandonFailed(ILogger logger, Exception exception, Guid fileId);
}
