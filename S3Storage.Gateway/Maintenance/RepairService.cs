using Microsoft.Extensions.Options;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Maintenance;

/// <summary>
/// The self-healing sweep, on one gateway of the cluster at a time. Every <c>Repair:Interval</c>
/// it runs a pass if one is due (<see cref="DueReason"/>): the cluster changed, a read found a
/// bad copy, the last pass left work, or <c>Repair:QuietInterval</c> has gone by. A pass has
/// these steps, each a worker of its own:
/// 1. <see cref="ReplicaReconciler"/> asks every readable node what it holds: stored copies it
///    lacks become <c>missing</c>, chunk files no row refers to (older than the grace period)
///    are deleted as orphans;
/// 2. page by page through the chunks of completed files, <see cref="ReplicationRepairer"/>
///    restores <c>Storage:ReplicationFactor</c> healthy copies, then <see cref="Rebalancer"/>
///    moves copies that sit off the ring's choice onto it;
/// 3. <see cref="DrainCompleter"/> lets go of draining nodes whose chunks all have their
///    copies elsewhere.
/// They run in this order in one pass because each step acts on what the one before found.
/// </summary>
public sealed partial class RepairService(
    IServiceScopeFactory scopes,
    ClusterView cluster,
    ReplicaReconciler reconciler,
    ReplicationRepairer repairer,
    Rebalancer rebalancer,
    DrainCompleter drains,
    RepairRequests requests,
    GatewayMetrics metrics,
    IOptions<RepairOptions> repairOptions,
    ILogger<RepairService> logger) : BackgroundService
{
    private readonly SemaphoreSlim _pass = new(1, 1);
    private RepairReport _last = new(null, null, false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, [], null);
    private long _copiesRepaired;
    private long _passesRun;
    private int _underReplicated;

    // What this gateway's last pass started from, and whether it left work; a pass another
    // gateway ran instead counts as work left here.
    private string? _clusterAtLastPass;
    private DateTimeOffset _lastPassAt = DateTimeOffset.MinValue;
    private bool _workLeft;
    private RepairPass? _lastPass;

    /// <summary>
    /// One pass at a time in the whole cluster: every gateway runs this service, and two passes
    /// at once would copy the same chunk twice. A session-level advisory lock, so a gateway that
    /// dies mid-pass lets go of it with its connection.
    /// </summary>
    public const long AdvisoryLockKey = 0x5333524550414952;

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
            if (DueReason(DateTimeOffset.UtcNow) is not { } reason)
            {
                continue;
            }

            LogPassDue(logger, reason);
            // Another gateway running a pass now is doing this tick's work.
            await RunPassAsync(waitForOtherGateways: false, stoppingToken);
        }
    }

    /// <summary>
    /// Why a background pass is due now, or null when none is. A pass costs in proportion to the
    /// store, so a cluster where nothing changed waits <c>Repair:QuietInterval</c> for one.
    /// </summary>
    public string? DueReason(DateTimeOffset now)
    {
        var snapshot = cluster.Current;
        if (_clusterAtLastPass is null)
        {
            return "first pass since start";
        }

        if (Fingerprint(snapshot) != _clusterAtLastPass)
        {
            return "the cluster changed";
        }

        if (requests.Take())
        {
            return "a read found a copy corrupt or missing";
        }

        if (_workLeft)
        {
            return "the last pass left work";
        }

        if (snapshot.Nodes.Values.Any(n => n.Status == ServerStatus.Draining))
        {
            return "a node is draining";
        }

        return now - _lastPassAt >= repairOptions.Value.QuietInterval ? "quiet interval" : null;
    }

    /// <summary>The nodes and what the pass cares about in each: a change in any is a reason to look again.</summary>
    private static string Fingerprint(ClusterSnapshot snapshot) =>
        string.Join(';', snapshot.Nodes.Values
            .OrderBy(n => n.ServerId)
            .Select(n => $"{n.ServerId}/{n.Address}/{n.Status}/{n.Live}/{n.InRing}"));

    /// <summary>
    /// A pass that left something a later pass could do: a failed copy, a chunk still short of
    /// copies that has one to copy from, a move (the next pass confirms nothing is left), a step
    /// it could not finish, an error.
    /// </summary>
    private static bool LeftWork(RepairPass pass) =>
        pass.Error is not null || pass.Incomplete || pass.Failed > 0 || pass.UnderReplicated - pass.Repaired - pass.Unrecoverable > 0 || pass.Repaired > 0 || pass.Rebalanced > 0;

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
            // The cluster as the pass starts: a change during the pass calls for another.
            var clusterAtStart = Fingerprint(cluster.Current);
            var ran = true;
            if (waitForOtherGateways)
            {
                await AdvisoryLock.RunAsync(lockSession, AdvisoryLockKey, () => RunLockedPassAsync(cancellationToken), cancellationToken);
            }
            else
            {
                ran = await AdvisoryLock.TryRunAsync(lockSession, AdvisoryLockKey, () => RunLockedPassAsync(cancellationToken), cancellationToken);
            }

            if (ran)
            {
                _workLeft = LeftWork(_lastPass!);
                _clusterAtLastPass = clusterAtStart;
                _lastPassAt = DateTimeOffset.UtcNow;
            }
            else
            {
                // The other gateway's pass may have read past what made this one due (a copy
                // found corrupt since, say), and may never finish: run one here once it ends.
                LogPassSkipped(logger);
                _workLeft = true;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The lock could not be taken: the database is unreachable. The next tick tries again.
            _workLeft = true;
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
        var pass = new RepairPass(DateTimeOffset.UtcNow);
        _lastPass = pass;
        Volatile.Write(ref _last, pass.Report(running: true));
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
            var snapshot = cluster.Current;
            var options = repairOptions.Value;
            foreach (var node in snapshot.Nodes.Values.Where(n => n.Readable))
            {
                await reconciler.ReconcileAsync(db, node, pass, cancellationToken);
            }

            using var throttle = new CopyThrottle(options.BytesPerSecond);
            await foreach (var page in ChunkPages.ReadAsync(db, options.PageSize, cancellationToken))
            {
                pass.Pages++;
                pass.ChunksChecked += page.Count;
                await repairer.RestoreAsync(db, snapshot, page, pass, throttle, cancellationToken);
                if (options.Rebalance)
                {
                    await rebalancer.RebalanceAsync(db, snapshot, page, pass, throttle, cancellationToken);
                }
            }

            await drains.CompleteDrainsAsync(db, snapshot, pass, cancellationToken);
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Repair pass due: {Reason}")]
    private static partial void LogPassDue(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Repair pass skipped: another gateway is running one")]
    private static partial void LogPassSkipped(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not take the cluster's repair lock; the next tick tries again")]
    private static partial void LogLockFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Repair pass: {Checked} chunks checked in {Pages} pages, {UnderReplicated} under-replicated, {Repaired} copies made, {Unrecoverable} unrecoverable, {Rebalanced} copies moved to the ring's nodes, {Bytes} bytes copied, {Missing} missing copies found, {Orphans} orphans collected")]
    private static partial void LogPass(ILogger logger, int @checked, int pages, int underReplicated, int repaired, int unrecoverable, int rebalanced, long bytes, int missing, int orphans);

    [LoggerMessage(Level = LogLevel.Error, Message = "Repair pass failed")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
