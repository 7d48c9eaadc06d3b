using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;
using S3Storage.Contracts.Storage;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Maintenance;

/// <summary>Repair and garbage collection (section <c>Repair</c>, env <c>Repair__*</c>).</summary>
public sealed class RepairOptions
{
    public const string SectionName = "Repair";

    /// <summary>False switches the background sweep off; POST /admin/repair still runs one pass.</summary>
    public bool Enabled { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00", ErrorMessage = "Repair:Interval must be between 100 ms and 1 day.")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Copy rate limit, so repair never starves client traffic; 0 is unlimited.</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Repair:BytesPerSecond must not be negative.")]
    public long BytesPerSecond { get; set; } = 100L * 1024 * 1024;

    /// <summary>
    /// Moves copies to the nodes the ring names for them, so a node that joins takes its share
    /// of the existing chunks (about R/N of the chunk sets change) and not only of new ones.
    /// </summary>
    public bool Rebalance { get; set; } = true;

    /// <summary>False leaves chunk files no row refers to on the nodes, e.g. while investigating how they came about.</summary>
    public bool CollectOrphans { get; set; } = true;

    /// <summary>Chunks read from the database at a time: a pass holds at most this many rows, whatever the store's size.</summary>
    [Range(1, 100_000, ErrorMessage = "Repair:PageSize must be between 1 and 100000.")]
    public int PageSize { get; set; } = 1000;

    /// <summary>A chunk file no row refers to is deleted only once it is this old: an upload may still be recording it.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00", ErrorMessage = "Repair:OrphanGracePeriod must be between 0 and 30 days.")]
    public TimeSpan OrphanGracePeriod { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>What the last repair pass found and did (GET /admin/repair).</summary>
public sealed record RepairReport(
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    bool Running,
    int ChunksChecked,
    int UnderReplicated,
    int Repaired,
    int Unrecoverable,
    int Rebalanced,
    int Failed,
    long BytesCopied,
    int MissingFound,
    int OrphansCollected,
    int Pages,
    IReadOnlyList<string> DrainsCompleted,
    string? Error);

/// <summary>
/// The self-healing sweep, one pass every <c>Repair:Interval</c>:
/// 1. asks every live node what it holds: stored copies it lacks become <c>missing</c>, chunk
///    files no row refers to (older than the grace period) are deleted as orphans;
/// 2. gives every chunk of a completed file <c>Storage:ReplicationFactor</c> healthy copies
///    (stored, on a live node that is not draining), copying from a healthy copy to the nodes
///    the ring names, at most <c>Repair:BytesPerSecond</c>; then, when rebalancing, moves
///    copies that sit off the ring's choice onto it (only chunks whose placement changed move);
/// 3. lets go of draining nodes whose chunks all have their copies elsewhere.
/// </summary>
public sealed partial class RepairService(
    IServiceScopeFactory scopes,
    ClusterView cluster,
    NodeClients clients,
    ChunkCopier copier,
    ChunkRemover remover,
    GatewayMetrics metrics,
    IOptions<RepairOptions> repairOptions,
    IOptions<StorageOptions> storageOptions,
    ILogger<RepairService> logger) : BackgroundService
{
    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly Counter<long> _bytesRepaired = metrics.Meter.CreateCounter<long>("s3storage.gateway.repair.bytes", "By", "Bytes copied by repair.");
    private readonly Counter<long> _chunksRepaired = metrics.Meter.CreateCounter<long>("s3storage.gateway.repair.chunks", "{chunk}", "Chunk copies made by repair.");
    private readonly Counter<long> _orphans = metrics.Meter.CreateCounter<long>("s3storage.gateway.repair.orphans", "{chunk}", "Orphan chunk files deleted from nodes.");
    private RepairReport _last = new(null, null, false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, [], null);
    private long _copiesRepaired;
    private long _passesRun;
    private int _underReplicated;

    /// <summary>
    /// One pass at a time in the whole cluster: every gateway runs this service, and two passes
    /// at once would copy the same chunk twice. A session-level advisory lock, so a gateway that
    /// dies mid-pass lets go of it with its connection.
    /// </summary>
    public const long AdvisoryLockKey = 0x5333524550414952;

    private static readonly TimeSpan ListingClockMargin = TimeSpan.FromSeconds(2);

    public RepairReport Last => Volatile.Read(ref _last);

    /// <summary>Copies this gateway has made to restore replication since it started (rebalancing not counted).</summary>
    public long CopiesRepaired => Interlocked.Read(ref _copiesRepaired);

    /// <summary>Passes this gateway has run since it started (those another gateway ran instead are not counted).</summary>
    public long PassesRun => Interlocked.Read(ref _passesRun);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.Meter.CreateObservableGauge("s3storage.gateway.repair.under_replicated", () => Volatile.Read(ref _underReplicated), "{chunk}", "Chunks with fewer healthy copies than the replication factor, at the last pass.");
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!repairOptions.Value.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(repairOptions.Value.Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // Another gateway running a pass now is doing this tick's work.
            await RunPassAsync(waitForOtherGateways: false, stoppingToken);
        }
    }

    /// <summary>
    /// Runs one pass now and returns its report. When another gateway (or this one) is running a
    /// pass, waits for it to end first, or, without <paramref name="waitForOtherGateways"/>,
    /// returns the last report at once.
    /// </summary>
    public async Task<RepairReport> RunPassAsync(bool waitForOtherGateways, CancellationToken cancellationToken)
    {
        await _pass.WaitAsync(cancellationToken);
        try
        {
            await using var lockScope = scopes.CreateAsyncScope();
            // The lock lives on a session of its own: the pass's work may reconnect after a fault.
            var lockSession = lockScope.ServiceProvider.GetRequiredService<MetadataDbContext>();
            if (waitForOtherGateways)
            {
                await AdvisoryLock.RunAsync(lockSession, AdvisoryLockKey, () => RunLockedPassAsync(cancellationToken), cancellationToken);
            }
            else if (!await AdvisoryLock.TryRunAsync(lockSession, AdvisoryLockKey, () => RunLockedPassAsync(cancellationToken), cancellationToken))
            {
                LogPassSkipped(logger);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The lock could not be taken: the database is unreachable.
            LogLockFailed(logger, e);
        }
        finally
        {
            _pass.Release();
        }

        return Last;
    }

    private async Task RunLockedPassAsync(CancellationToken cancellationToken)
    {
        var pass = new Pass(DateTimeOffset.UtcNow);
        Volatile.Write(ref _last, pass.Report(running: true));
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
            var snapshot = cluster.Current;
            foreach (var node in snapshot.Nodes.Values.Where(n => n.Readable))
            {
                await ReconcileAsync(db, node, pass, cancellationToken);
            }

            await RestoreReplicationAsync(db, snapshot, pass, cancellationToken);
            await CompleteDrainsAsync(db, snapshot, pass, cancellationToken);
            LogPass(logger, pass.ChunksChecked, pass.Pages, pass.UnderReplicated, pass.Repaired, pass.Unrecoverable, pass.Rebalanced, pass.BytesCopied, pass.MissingFound, pass.OrphansCollected);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            pass.Error = e.Message;
            LogPassFailed(logger, e);
        }
        finally
        {
            pass.FinishedAt = DateTimeOffset.UtcNow;
            Interlocked.Add(ref _copiesRepaired, pass.Repaired);
            Interlocked.Increment(ref _passesRun);
            Volatile.Write(ref _underReplicated, pass.UnderReplicated - pass.Repaired);
            Volatile.Write(ref _last, pass.Report(running: false));
        }
    }

    /// <summary>
    /// Compares what a node holds with what the rows say it holds, as a merge of two lists in
    /// chunk id order: the node's listing, streamed, and its rows, a page at a time. A row
    /// whose stored copy the node lacks is marked missing; a chunk file older than the grace
    /// period that no row refers to is deleted as an orphan. Memory stays at a page of rows and
    /// a page of findings, however many chunks the node holds.
    /// </summary>
    private async Task ReconcileAsync(MetadataDbContext db, NodeInfo node, Pass pass, CancellationToken cancellationToken)
    {
        var pageSize = repairOptions.Value.PageSize;
        var graceLimit = DateTimeOffset.UtcNow - repairOptions.Value.OrphanGracePeriod;
        var missing = new List<Guid>();
        var orphans = new List<Guid>();
        // Rows are read while the listing streams, so a copy stored after the node listed past
        // its id can have a stored row by the time its page is read: only copies confirmed
        // before the listing began are held to it (with a margin for the clocks of other
        // gateways); a later one is checked at the next pass.
        var listingStarted = DateTimeOffset.UtcNow - ListingClockMargin;
        try
        {
            using var listing = clients.For(node).ListChunks(new ListChunksRequest(), cancellationToken: cancellationToken);
            await using var listed = Listed(listing.ResponseStream, cancellationToken).GetAsyncEnumerator(cancellationToken);
            var hasListed = await listed.MoveNextAsync();
            var after = Guid.Empty;
            while (true)
            {
                // uuid order in PostgreSQL is the node's order of ids as lowercase text.
                var rows = await db.ChunkReplicas
                    .FromSql($"SELECT * FROM chunk_replicas WHERE server_id = {node.ServerId} AND chunk_id > {after}")
                    .AsNoTracking()
                    .OrderBy(r => r.ChunkId)
                    .Take(pageSize)
                    .Select(r => new { r.ChunkId, r.Status, r.VerifiedAt })
                    .ToListAsync(cancellationToken);
                foreach (var row in rows)
                {
                    var rowKey = row.ChunkId.ToString("D");
                    // Listed chunks that sort before this row have no row at all.
                    while (hasListed && string.CompareOrdinal(listed.Current.Key, rowKey) < 0)
                    {
                        if (listed.Current.StoredAt < graceLimit)
                        {
                            orphans.Add(listed.Current.ChunkId);
                        }

                        hasListed = await listed.MoveNextAsync();
                    }

                    if (hasListed && listed.Current.Key == rowKey)
                    {
                        hasListed = await listed.MoveNextAsync();
                    }
                    else if (row.Status == ReplicaStatus.Stored && (row.VerifiedAt is null || row.VerifiedAt < listingStarted))
                    {
                        missing.Add(row.ChunkId);
                    }
                }

                await MarkMissingAsync(db, node, missing, pass, cancellationToken);
                if (orphans.Count >= pageSize)
                {
                    await CollectOrphansAsync(db, node, orphans, pass, cancellationToken);
                }

                if (rows.Count < pageSize)
                {
                    break;
                }

                after = rows[^1].ChunkId;
            }

            // Whatever the node lists past the last row has no row either.
            while (hasListed)
            {
                if (listed.Current.StoredAt < graceLimit)
                {
                    orphans.Add(listed.Current.ChunkId);
                }

                if (orphans.Count >= pageSize)
                {
                    await CollectOrphansAsync(db, node, orphans, pass, cancellationToken);
                }

                hasListed = await listed.MoveNextAsync();
            }
        }
        catch (RpcException e)
        {
            // Only what the listing proved before it broke was acted on: it comes in id order.
            LogNodeUnreachable(logger, e, node.Name);
            return;
        }

        await CollectOrphansAsync(db, node, orphans, pass, cancellationToken);
    }

    private static async IAsyncEnumerable<(string Key, Guid ChunkId, DateTimeOffset StoredAt)> Listed(
        IAsyncStreamReader<ListChunksResponse> listing,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var batch in listing.ReadAllAsync(cancellationToken))
        {
            foreach (var entry in batch.Chunks)
            {
                yield return (entry.ChunkId, Guid.Parse(entry.ChunkId), entry.StoredAt.ToDateTimeOffset());
            }
        }
    }

    private async Task MarkMissingAsync(MetadataDbContext db, NodeInfo node, List<Guid> missing, Pass pass, CancellationToken cancellationToken)
    {
        if (missing.Count == 0)
        {
            return;
        }

        await db.ChunkReplicas
            .Where(r => r.ServerId == node.ServerId && missing.Contains(r.ChunkId) && r.Status == ReplicaStatus.Stored)
            .ExecuteUpdateAsync(r => r.SetProperty(x => x.Status, ReplicaStatus.Missing), cancellationToken);
        pass.MissingFound += missing.Count;
        LogMissing(logger, node.Name, missing.Count);
        missing.Clear();
    }

    private async Task CollectOrphansAsync(MetadataDbContext db, NodeInfo node, List<Guid> orphans, Pass pass, CancellationToken cancellationToken)
    {
        if (orphans.Count == 0)
        {
            return;
        }

        // A row may have appeared since the listing started: check again right before deleting.
        var referenced = await db.ChunkReplicas.AsNoTracking()
            .Where(r => r.ServerId == node.ServerId && orphans.Contains(r.ChunkId))
            .Select(r => r.ChunkId)
            .ToListAsync(cancellationToken);
        var doomed = orphans.Except(referenced).ToList();
        orphans.Clear();
        if (!repairOptions.Value.CollectOrphans || doomed.Count == 0)
        {
            return;
        }

        var removed = await remover.RemoveAsync(doomed.Select(id => new ReplicaToRemove(id, node.ServerId)), cancellationToken);
        pass.OrphansCollected += removed;
        _orphans.Add(removed);
        LogOrphans(logger, node.Name, removed);
    }

    private async Task RestoreReplicationAsync(MetadataDbContext db, ClusterSnapshot snapshot, Pass pass, CancellationToken cancellationToken)
    {
        using var throttle = new CopyThrottle(repairOptions.Value.BytesPerSecond);
        var pageSize = repairOptions.Value.PageSize;
        var after = Guid.Empty;
        while (true)
        {
            // Keyset paging by chunk id: each page is one index range scan, and a pass holds one
            // page of rows whatever the number of chunks. (uuid order is PostgreSQL's; LINQ has
            // no "greater than" for Guid, hence the SQL.)
            var page = await db.Chunks
                .FromSql($"SELECT * FROM chunks WHERE chunk_id > {after}")
                .AsNoTracking()
                .Where(c => c.File!.UploadStatus == UploadStatus.Completed)
                .OrderBy(c => c.ChunkId)
                .Take(pageSize)
                .Select(c => new ChunkState(
                    c.ChunkId,
                    c.FileId,
                    c.ChunkNumber,
                    c.ChunkSize,
                    c.ChunkHash,
                    c.Replicas.Select(r => new CopyState(r.ServerId, r.Status)).ToList()))
                .ToListAsync(cancellationToken);
            if (page.Count == 0)
            {
                return;
            }

            pass.Pages++;
            pass.ChunksChecked += page.Count;
            await RestorePageAsync(db, snapshot, page, pass, throttle, cancellationToken);
            if (repairOptions.Value.Rebalance)
            {
                await RebalanceAsync(db, snapshot, page, pass, throttle, cancellationToken);
            }

            after = page[^1].ChunkId;
        }
    }

    private sealed record CopyState(Guid ServerId, ReplicaStatus Status);

    private sealed record ChunkState(Guid ChunkId, Guid FileId, int ChunkNumber, long ChunkSize, string? ChunkHash, List<CopyState> Copies);

    private async Task RestorePageAsync(MetadataDbContext db, ClusterSnapshot snapshot, List<ChunkState> chunks, Pass pass, CopyThrottle throttle, CancellationToken cancellationToken)
    {
        var replicas = storageOptions.Value.ReplicationFactor;
        foreach (var chunk in chunks)
        {
            bool Healthy(Guid serverId, ReplicaStatus status) =>
                status == ReplicaStatus.Stored && snapshot.Node(serverId) is { Keeps: true };

            var healthy = chunk.Copies.Where(c => Healthy(c.ServerId, c.Status)).Select(c => c.ServerId).ToHashSet();
            if (healthy.Count >= replicas)
            {
                continue;
            }

            pass.UnderReplicated++;
            // Any stored copy on a node that answers can be the source, a draining one included.
            var source = chunk.Copies
                .Where(c => c.Status == ReplicaStatus.Stored && snapshot.Node(c.ServerId) is { Readable: true })
                .Select(c => snapshot.Node(c.ServerId)!)
                .OrderByDescending(n => n.Status == ServerStatus.Active)
                .FirstOrDefault();
            if (source is null || chunk.ChunkHash is null)
            {
                pass.Unrecoverable++;
                LogUnrecoverable(logger, chunk.ChunkId, chunk.FileId, chunk.ChunkNumber);
                continue;
            }

            var location = new ChunkLocation(chunk.ChunkId, chunk.FileId, chunk.ChunkNumber, chunk.ChunkSize, chunk.ChunkHash);
            // A live node holding a corrupt or missing copy is rewritten first (the node
            // replaces a copy it knows is bad): the bad copy goes and placement stays put.
            // Then the ring's order.
            var damaged = chunk.Copies
                .Where(c => c.Status != ReplicaStatus.Stored && snapshot.Node(c.ServerId) is { Placeable: true })
                .Select(c => c.ServerId);
            var targets = damaged
                .Concat(snapshot.Ring.Locate(HashRing.ChunkKey(chunk.FileId, chunk.ChunkNumber), snapshot.Ring.ServerCount))
                .Distinct()
                .Where(id => !healthy.Contains(id))
                .Select(id => snapshot.Node(id)!)
                .ToList();
            foreach (var target in targets)
            {
                if (healthy.Count >= replicas)
                {
                    break;
                }

                if (await CopyAsync(db, location, source, target, cancellationToken))
                {
                    healthy.Add(target.ServerId);
                    pass.Repaired++;
                    pass.BytesCopied += chunk.ChunkSize;
                    await throttle.ChargeAsync(chunk.ChunkSize, cancellationToken);
                }
                else
                {
                    pass.Failed++;
                }
            }
        }

    }

    /// <summary>
    /// For chunks with their full set of healthy copies, puts each copy where the ring says:
    /// copy to the ring's node first, then drop the copy that is off the ring's choice.
    /// </summary>
    private async Task RebalanceAsync(
        MetadataDbContext db,
        ClusterSnapshot snapshot,
        List<ChunkState> chunks,
        Pass pass,
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
                if (extra == Guid.Empty || !await CopyAsync(db, location, source, target, cancellationToken))
                {
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

    private async Task<bool> CopyAsync(MetadataDbContext db, ChunkLocation chunk, NodeInfo source, NodeInfo target, CancellationToken cancellationToken)
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

    /// <summary>A draining node whose every chunk has its full set of copies elsewhere is let go.</summary>
    private async Task CompleteDrainsAsync(MetadataDbContext db, ClusterSnapshot snapshot, Pass pass, CancellationToken cancellationToken)
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

    private sealed class Pass(DateTimeOffset startedAt)
    {
        public DateTimeOffset StartedAt { get; } = startedAt;

        public DateTimeOffset? FinishedAt { get; set; }

        public int ChunksChecked { get; set; }

        public int UnderReplicated { get; set; }

        public int Repaired { get; set; }

        public int Unrecoverable { get; set; }

        public int Rebalanced { get; set; }

        public int Failed { get; set; }

        public long BytesCopied { get; set; }

        public int MissingFound { get; set; }

        public int OrphansCollected { get; set; }

        public int Pages { get; set; }

        public List<string> DrainsCompleted { get; } = [];

        public string? Error { get; set; }

        public RepairReport Report(bool running) => new(
            StartedAt, FinishedAt, running, ChunksChecked, UnderReplicated, Repaired, Unrecoverable, Rebalanced, Failed, BytesCopied, MissingFound, OrphansCollected, Pages, [.. DrainsCompleted], Error);
    }

    /// <summary>Spaces copies out so repair averages at most the configured bytes per second.</summary>
    [LoggerMessage(Level = LogLevel.Debug, Message = "Repair pass skipped: another gateway is running one")]
    private static partial void LogPassSkipped(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not take the cluster's repair lock; the next tick tries again")]
    private static partial void LogLockFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Repair pass: {Checked} chunks checked in {Pages} pages, {UnderReplicated} under-replicated, {Repaired} copies made, {Unrecoverable} unrecoverable, {Rebalanced} copies moved to the ring's nodes, {Bytes} bytes copied, {Missing} missing copies found, {Orphans} orphans collected")]
    private static partial void LogPass(ILogger logger, int @checked, int pages, int underReplicated, int repaired, int unrecoverable, int rebalanced, long bytes, int missing, int orphans);

    [LoggerMessage(Level = LogLevel.Error, Message = "Repair pass failed")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not list the chunks of {Node}; it is reconciled at the next pass")]
    private static partial void LogNodeUnreachable(ILogger logger, Exception exception, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Node} lacks {Count} chunks its rows say it stores; they are marked missing")]
    private static partial void LogMissing(ILogger logger, string node, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} orphan chunks from {Node}")]
    private static partial void LogOrphans(ILogger logger, string node, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Chunk {ChunkId} (file {FileId}, chunk {ChunkNumber}) has no readable copy left")]
    private static partial void LogUnrecoverable(ILogger logger, Guid chunkId, Guid fileId, int chunkNumber);

    [LoggerMessage(Level = LogLevel.Information, Message = "Copied chunk {ChunkId} (number {ChunkNumber}) from {Source} to {Target}: {Bytes} bytes")]
    private static partial void LogCopied(ILogger logger, Guid chunkId, int chunkNumber, string source, string target, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Copying chunk {ChunkId} from {Source} to {Target} failed")]
    private static partial void LogCopyFailed(ILogger logger, Exception exception, Guid chunkId, string source, string target);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining {Node}: {Remaining} of its {Held} chunks still need copies elsewhere")]
    private static partial void LogDrainWaiting(ILogger logger, string node, int remaining, int held);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drained {Node}: its {Chunks} chunks live on other nodes; it is now inactive")]
    private static partial void LogDrained(ILogger logger, string node, int chunks);
}
