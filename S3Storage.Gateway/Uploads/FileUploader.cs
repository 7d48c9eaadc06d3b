using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.Telemetry;

using S3Storage.Gateway.Maintenance;

namespace S3Storage.Gateway.Uploads;

/// <summary>Who is storing a file: the access key (when the API has one) and the client's address, recorded on the upload session.</summary>
public sealed record UploadCaller(string? AccessKeyId, IPAddress? Address);

/// <summary>What the client gets back for a stored file.</summary>
public sealed record UploadedFile(Guid FileId, string Filename, string ContentType, long Size, string Sha256, int ChunkCount);

/// <summary>
/// The upload core, for any API: source → plan → place → stream → commit. One transaction
/// creates the file, its chunks, their planned copies and the upload session; the source's
/// bytes stream through the six chunks to their nodes; the file is marked completed only once
/// every chunk has <c>Storage:ReplicationFactor</c> acknowledged copies. Failures are
/// <see cref="StoreException"/>s.
/// </summary>
public sealed partial class FileUploader(
    MetadataDbContext db,
    ClusterView cluster,
    ChunkWriter writer,
    ChunkBatchWriter batchWriter,
    ChunkCopier copier,
    NodeCalls nodeCalls,
    ChunkRemover remover,
    UploadSessionKeeper sessionKeeper,
    RepairRequests repairs,
    GatewayMetrics metrics,
    IOptions<StorageOptions> storageOptions,
    IOptions<UploadOptions> uploadOptions,
    ILogger<FileUploader> logger)
{
    public async Task<UploadedFile> UploadAsync(UploadSource source, UploadCaller caller, CancellationToken cancellationToken)
    {
        var storage = storageOptions.Value;
        var plan = ChunkPlanner.Plan(source.Length, storage.MaxFileSize);
        var snapshot = cluster.Current;
        var replicas = storage.ReplicationFactor;
        if (snapshot.PlaceableCount < replicas)
        {
            cluster.RequestRefresh();
            throw NodesUnavailable($"{snapshot.PlaceableCount} storage nodes are live; each chunk needs {replicas} distinct nodes.");
        }

        // Each of an upload's transactions saves once and rolls back whole: the savepoint EF
        // sets around a save inside a transaction would cost two more statements each time.
        db.Database.AutoSavepointsEnabled = false;
        using var activity = GatewayMetrics.ActivitySource.StartActivity("upload");
        using var _ = metrics.TrackUpload();
        var started = Stopwatch.GetTimestamp();
        var upload = await CreateAsync(source, caller, plan, snapshot, replicas, cancellationToken);
        activity?.SetTag("s3storage.file_id", upload.File.FileId);
        activity?.SetTag("s3storage.file_size", source.Length);
        var session = sessionKeeper.Keep(upload.File.FileId, upload.Session.SessionId, source);
        using var working = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, session.Expired);
        var sent = new List<SentChunk>(ChunkPlanner.ChunksPerFile);
        try
        {
            var batched = uploadOptions.Value.BatchedFileSize > 0 && source.Length <= uploadOptions.Value.BatchedFileSize;
            var sha256 = batched
                ? await SendWholeAsync(upload, plan, source, sent, working.Token)
                : await StreamAsync(upload, plan, source, sent, working.Token);
            var storedCopies = new List<StoredCopies>(sent.Count);
            foreach (var chunkSent in sent)
            {
                storedCopies.Add(await EnsureReplicasAsync(upload.Placements[chunkSent.Range.Number], chunkSent, working.Token));
            }

            await CompleteAsync(upload, sent, storedCopies, sha256, working.Token);
            // A holder that died or began draining while the upload ran no longer counts, and
            // the pass that change set off could not see this file, which was not complete yet.
            var clusterNow = cluster.Current;
            if (storedCopies.SelectMany(copies => copies.Holders).Any(holder => clusterNow.Node(holder.ServerId) is not { Keeps: true }))
            {
                repairs.Request();
            }
            metrics.Operation("upload", "completed", Stopwatch.GetElapsedTime(started));
            LogUploaded(logger, upload.File.FileId, upload.File.Filename, source.Length, caller.AccessKeyId, Stopwatch.GetElapsedTime(started).TotalSeconds);
            return new UploadedFile(upload.File.FileId, upload.File.Filename, upload.File.ContentType, source.Length, sha256, ChunkPlanner.ChunksPerFile);
        }
        catch (Exception e)
        {
            var clientGone = cancellationToken.IsCancellationRequested;
            var failure = !clientGone && session.HasExpired
                ? new StoreException(StoreFailure.UploadStalled, "The upload stalled and expired", $"The upload session {upload.Session.SessionId} expired before the upload finished.", e)
                : e;
            await session.DisposeAsync();
            metrics.Operation("upload", clientGone ? "cancelled" : "failed", Stopwatch.GetElapsedTime(started));
            metrics.Error("upload", clientGone ? "client_disconnected" : failure is StoreException known ? known.Failure.ToString() : failure.GetType().Name);
            if (clientGone)
            {
                // Not a fault of the store: no stack trace for a client that hung up.
                LogUploadCancelled(logger, upload.File.FileId);
            }
            else
            {
                LogUploadFailed(logger, failure, upload.File.FileId);
            }

            await AbandonAsync(upload, sent, clientGone);
            if (failure == e)
            {
                throw;
            }

            throw failure;
        }
        finally
        {
            await session.DisposeAsync();
        }
    }

    /// <summary>Streams the file chunk by chunk, each to its nodes as its bytes arrive; returns the file's SHA-256.</summary>
    private async Task<string> StreamAsync(Upload upload, ChunkPlan plan, UploadSource source, List<SentChunk> sent, CancellationToken cancellationToken)
    {
        using var fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var placement in upload.Placements)
        {
            var chunkSent = await writer.WriteAsync(placement, plan.Chunks[placement.Chunk.ChunkNumber], source, fileHash, cancellationToken);
            sent.Add(chunkSent);
            if (placement.StreamedTo(chunkSent.Targets))
            {
                await SaveCopiesAsync(placement, cancellationToken);
            }
        }

        await source.ReadEndAsync(cancellationToken);
        return Convert.ToHexStringLower(fileHash.GetHashAndReset());
    }

    /// <summary>
    /// A small file (up to <c>Uploads:BatchedFileSize</c>) is read whole, checked to its end,
    /// and sent with one call per node (<see cref="ChunkBatchWriter"/>); returns its SHA-256.
    /// Holding it costs at most that many bytes per upload, and a bad body never reaches a node.
    /// </summary>
    private async Task<string> SendWholeAsync(Upload upload, ChunkPlan plan, UploadSource source, List<SentChunk> sent, CancellationToken cancellationToken)
    {
        var length = (int)source.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            var file = buffer.AsMemory(0, length);
            for (var read = 0; read < length;)
            {
                read += await source.ReadAsync(file[read..], cancellationToken);
            }

            await source.ReadEndAsync(cancellationToken);
            metrics.BytesUploaded(length);
            sent.AddRange(await batchWriter.WriteAsync(upload.Placements, plan.Chunks, file, SaveCopiesAsync, cancellationToken));
            return Convert.ToHexStringLower(SHA256.HashData(file.Span));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private sealed record Upload(StoredFile File, UploadSession Session, IReadOnlyList<ChunkPlacement> Placements);

    private async Task<Upload> CreateAsync(UploadSource source, UploadCaller caller, ChunkPlan plan, ClusterSnapshot snapshot, int replicas, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var file = new StoredFile
        {
            FileId = Guid.CreateVersion7(),
            Filename = source.Filename,
            ContentType = source.ContentType,
            TotalSize = source.Length,
            ChunkSize = plan.ChunkSize,
        };
        var placements = new List<ChunkPlacement>(ChunkPlanner.ChunksPerFile);
        foreach (var range in plan.Chunks)
        {
            // Chunk ids are random, not time-ordered: nodes fan them out over chunks/ab/cd by their first digits.
            var chunk = new StoredChunk { ChunkId = Guid.NewGuid(), FileId = file.FileId, ChunkNumber = range.Number, ChunkSize = range.Length };
            placements.Add(ChunkPlacement.Plan(chunk, snapshot, replicas));
            file.Chunks.Add(chunk);
        }

        var session = new UploadSession
        {
            SessionId = Guid.NewGuid(),
            FileId = file.FileId,
            ClientIp = caller.Address,
            StartedAt = now,
            LastActivity = now,
            ExpiresAt = now + uploadOptions.Value.SessionTimeout,
        };
        var chunks = file.Chunks;
        var replicaChunks = chunks.SelectMany(c => c.Replicas).Select(r => r.ChunkId).ToArray();
        var replicaServers = chunks.SelectMany(c => c.Replicas).Select(r => r.ServerId).ToArray();
        // One statement: file, chunks, planned copies and session appear together. Written by
        // hand because EF sent the same as one command per row (20 for a file of six chunks at
        // R=2), and that was most of a small upload's database work. A connection lost around
        // the commit leaves its outcome unknown, and the retry would insert the same rows again
        // (duplicate key): the retry first asks whether the file's row is there, and if so the
        // first attempt committed.
        await db.Database.CreateExecutionStrategy().ExecuteAsync(
            0,
            (context, _, ct) => context.Database.ExecuteSqlAsync($"""
                WITH new_file AS (
                    INSERT INTO files (file_id, filename, content_type, total_size, chunk_size, num_chunks, upload_status)
                    VALUES ({file.FileId}, {file.Filename}, {file.ContentType}, {file.TotalSize}, {file.ChunkSize}, {file.NumChunks}, 'pending')
                    RETURNING file_id),
                new_session AS (
                    INSERT INTO upload_sessions (session_id, file_id, client_ip, started_at, last_activity, expires_at, status, bytes_received)
                    SELECT {session.SessionId}, file_id, {session.ClientIp}::inet, {now}, {now}, {session.ExpiresAt}, 'active', 0
                    FROM new_file),
                new_chunks AS (
                    INSERT INTO chunks (chunk_id, file_id, chunk_number, chunk_size, upload_status)
                    SELECT u.chunk_id, f.file_id, u.chunk_number, u.chunk_size, 'pending'
                    FROM new_file AS f,
                        unnest({chunks.Select(c => c.ChunkId).ToArray()}::uuid[], {chunks.Select(c => c.ChunkNumber).ToArray()}::int[], {chunks.Select(c => c.ChunkSize).ToArray()}::bigint[])
                            AS u(chunk_id, chunk_number, chunk_size)
                    RETURNING chunk_id)
                INSERT INTO chunk_replicas (chunk_id, server_id, status)
                SELECT r.chunk_id, r.server_id, 'pending'
                FROM unnest({replicaChunks}::uuid[], {replicaServers}::uuid[]) AS r(chunk_id, server_id)
                WHERE r.chunk_id IN (SELECT chunk_id FROM new_chunks)
                """, ct),
            async (context, _, ct) => new ExecutionResult<int>(await context.Set<StoredFile>().AsNoTracking().AnyAsync(f => f.FileId == file.FileId, ct), 0),
            cancellationToken);
        // Tracked from here as the rows they now are: the upload records copies and settles them through EF.
        db.Attach(file);
        db.Attach(session);
        return new Upload(file, session, placements);
    }

    /// <summary>Waits for the nodes to store the chunk; copies it to further nodes until it has its copies.</summary>
    private async Task<StoredCopies> EnsureReplicasAsync(ChunkPlacement placement, SentChunk sent, CancellationToken cancellationToken)
    {
        var acknowledged = await sent.Acknowledged;
        var stored = acknowledged.Holders.ToList();
        if (stored.Count == 0)
        {
            throw NodesUnavailable(acknowledged.Disagreement ?? $"No node stored chunk {sent.Range.Number}.");
        }

        var location = new ChunkLocation(sent.ChunkId, placement.Chunk.FileId, sent.Range.Number, sent.Range.Length, acknowledged.Sha256!);
        while (stored.Count < placement.Replicas && placement.NextToCopyTo() is { } target)
        {
            // The copy is recorded before it is made, so a crash leaves nothing unaccounted for.
            await SaveCopiesAsync(placement, cancellationToken);
            if (await TryCopyAsync(location, stored[0], target, cancellationToken))
            {
                stored.Add(target);
            }
        }

        return stored.Count >= placement.Replicas
            ? acknowledged with { Holders = stored }
            : throw NodesUnavailable($"Chunk {sent.Range.Number} has {stored.Count} of its {placement.Replicas} copies and no further node took one.");
    }

    /// <summary>
    /// Saves the copies <paramref name="placement"/> has recorded. A connection lost around the
    /// COMMIT leaves its outcome unknown and a blind retry would insert the rows twice: the
    /// retry first counts the chunk's rows, and if they are all there the first attempt committed.
    /// </summary>
    private async Task SaveCopiesAsync(ChunkPlacement placement, CancellationToken cancellationToken)
    {
        var chunkId = placement.Chunk.ChunkId;
        var recorded = placement.Chunk.Replicas.Count;
        await db.Database.CreateExecutionStrategy().ExecuteInTransactionAsync(
            ct => db.SaveChangesAsync(acceptAllChangesOnSuccess: false, ct),
            async ct => await db.ChunkReplicas.CountAsync(r => r.ChunkId == chunkId, ct) == recorded,
            cancellationToken);
        db.ChangeTracker.AcceptAllChanges();
    }

    private async Task<bool> TryCopyAsync(ChunkLocation chunk, NodeInfo source, NodeInfo target, CancellationToken cancellationToken)
    {
        try
        {
            await nodeCalls.RunAsync(target, async token =>
            {
                await copier.CopyAsync(chunk, source, target, token);
                return true;
            }, cancellationToken);
            LogCopied(logger, chunk.ChunkNumber, source.Name, target.Name);
            return true;
        }
        catch (Exception e) when (NodeFaults.IsNodeFailure(e, cancellationToken))
        {
            LogCopyFailed(logger, e, chunk.ChunkNumber, target.Name, uploadOptions.Value.NodeAttempts);
            metrics.Failover("upload");
            cluster.RequestRefresh();
            return false;
        }
    }

    /// <summary>
    /// Completes the upload in one statement: claims its session, completes the file and its
    /// chunks, marks the acknowledged copies stored and deletes the recorded ones no node
    /// acknowledged. Written by hand because EF wrote the same as one command per row (19 for
    /// a file of six chunks at R=2) plus the claim, and that was the largest part of a small
    /// upload's gateway CPU.
    /// </summary>
    private async Task CompleteAsync(Upload upload, IReadOnlyList<SentChunk> sent, IReadOnlyList<StoredCopies> storedCopies, string sha256, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var chunkIds = new List<Guid>(sent.Count);
        var chunkHashes = new List<string>(sent.Count);
        var storedChunks = new List<Guid>();
        var storedServers = new List<Guid>();
        var droppedChunks = new List<Guid>();
        var droppedServers = new List<Guid>();
        foreach (var chunkSent in sent)
        {
            var number = chunkSent.Range.Number;
            var copies = storedCopies[number];
            var placement = upload.Placements[number];
            // Only copies the nodes acknowledged are recorded as stored. The tracked rows follow,
            // so a failed completion is abandoned from what is really there.
            var unheld = placement.Settle(copies.Holders, copies.Sha256!, now);
            db.ChunkReplicas.RemoveRange(unheld);
            chunkIds.Add(placement.Chunk.ChunkId);
            chunkHashes.Add(copies.Sha256!);
            foreach (var holder in copies.Holders)
            {
                storedChunks.Add(placement.Chunk.ChunkId);
                storedServers.Add(holder.ServerId);
            }

            foreach (var replica in unheld)
            {
                droppedChunks.Add(replica.ChunkId);
                droppedServers.Add(replica.ServerId);
            }
        }

        var file = upload.File;
        file.UploadStatus = UploadStatus.Completed;
        file.Checksum = sha256;
        file.CompletedAt = now;
        var fileId = file.FileId;
        var size = file.TotalSize;
        var sessionId = upload.Session.SessionId;
        // Claiming the session in the same statement means an upload the cleanup job has already
        // expired can never turn into a completed file. A connection lost around the commit
        // leaves its outcome unknown: the retry first asks whether the file is completed, and
        // if so the first attempt committed (claiming the session again would find it completed
        // and call the upload expired).
        var claimed = await db.Database.CreateExecutionStrategy().ExecuteAsync(
            0,
            async (context, _, ct) => (await context.Database.SqlQuery<int>($"""
                WITH claimed AS (
                    UPDATE upload_sessions
                    SET status = 'completed', bytes_received = {size}, last_activity = {now}
                    WHERE session_id = {sessionId} AND status = 'active'
                    RETURNING file_id),
                completed_file AS (
                    UPDATE files
                    SET upload_status = 'completed', checksum = {sha256}, completed_at = {now}
                    WHERE file_id = {fileId} AND file_id IN (SELECT file_id FROM claimed)
                    RETURNING file_id),
                completed_chunks AS (
                    UPDATE chunks AS c
                    SET chunk_hash = u.chunk_hash, upload_status = 'completed', uploaded_at = {now}
                    FROM unnest({chunkIds.ToArray()}::uuid[], {chunkHashes.ToArray()}::text[]) AS u(chunk_id, chunk_hash)
                    WHERE c.chunk_id = u.chunk_id AND c.file_id IN (SELECT file_id FROM completed_file)
                    RETURNING c.chunk_id),
                stored AS (
                    UPDATE chunk_replicas AS r
                    SET status = 'stored', verified_at = {now}
                    FROM unnest({storedChunks.ToArray()}::uuid[], {storedServers.ToArray()}::uuid[]) AS h(chunk_id, server_id)
                    WHERE r.chunk_id = h.chunk_id AND r.server_id = h.server_id AND r.chunk_id IN (SELECT chunk_id FROM completed_chunks)
                    RETURNING 1),
                dropped AS (
                    DELETE FROM chunk_replicas AS r
                    USING unnest({droppedChunks.ToArray()}::uuid[], {droppedServers.ToArray()}::uuid[]) AS d(chunk_id, server_id)
                    WHERE r.chunk_id = d.chunk_id AND r.server_id = d.server_id AND r.chunk_id IN (SELECT chunk_id FROM completed_chunks)
                    RETURNING 1)
                SELECT count(*)::int AS "Value" FROM claimed
                """).ToListAsync(ct)).Single(),
            async (context, _, ct) => new ExecutionResult<int>(
                await context.Set<StoredFile>().AsNoTracking().AnyAsync(f => f.FileId == fileId && f.UploadStatus == UploadStatus.Completed, ct),
                1),
            cancellationToken);
        if (claimed == 0)
        {
            throw new StoreException(StoreFailure.UploadStalled, "The upload stalled and expired", $"The upload session {sessionId} expired before the upload finished.");
        }

        db.ChangeTracker.AcceptAllChanges();
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
            await Task.WhenAll(sent.Select(s => s.Acknowledged)).WaitAsync(uploadOptions.Value.StoreTimeout);
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

            // Verified like every write whose commit may be lost in flight: the file is failed.
            var fileId = upload.File.FileId;
            await db.Database.CreateExecutionStrategy().ExecuteInTransactionAsync(
                ct => db.SaveChangesAsync(acceptAllChangesOnSuccess: false, ct),
                ct => db.Files.AsNoTracking().AnyAsync(f => f.FileId == fileId && f.UploadStatus == UploadStatus.Failed, ct),
                CancellationToken.None);
            db.ChangeTracker.AcceptAllChanges();
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or Npgsql.NpgsqlException or TimeoutException)
        {
            // The session stays active and expires: the cleanup job removes the upload then.
            LogAbandonFailed(logger, e, upload.File.FileId);
        }
    }

    private static StoreException NodesUnavailable(string detail) => new(StoreFailure.NodesUnavailable, "Not enough storage nodes are available", detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored file {FileId} ({Filename}, {Size} bytes) for key {AccessKeyId} in {Seconds:F2} s")]
    private static partial void LogUploaded(ILogger logger, Guid fileId, string filename, long size, string? accessKeyId, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload of {FileId} failed")]
    private static partial void LogUploadFailed(ILogger logger, Exception exception, Guid fileId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upload of {FileId} cancelled: the client went away")]
    private static partial void LogUploadCancelled(ILogger logger, Guid fileId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Copied chunk {ChunkNumber} from {Source} to {Target} to reach full replication")]
    private static partial void LogCopied(ILogger logger, int chunkNumber, string source, string target);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Copying chunk {ChunkNumber} to {Target} failed in {Attempts} attempts; trying the next node")]
    private static partial void LogCopyFailed(ILogger logger, Exception exception, int chunkNumber, string target, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not mark upload {FileId} failed; its session will expire and be cleaned")]
    private static partial void LogAbandonFailed(ILogger logger, Exception exception, Guid fileId);
}
