using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;

namespace S3Storage.Gateway.Cluster;

/// <summary>
/// A storage node as the gateway knows it. <see cref="Live"/>: its heartbeat is fresh and it is
/// not inactive, so it can be read from. <see cref="InRing"/>: placement may also write to it
/// (active and live; a draining node is live but out of the ring).
/// </summary>
public sealed record NodeInfo(Guid ServerId, string Name, string Address, ServerStatus Status, bool Live, bool InRing, TimeSpan? HeartbeatAge = null);

/// <summary>One consistent picture of the cluster: the ring of live nodes and every known node's address.</summary>
public sealed record ClusterSnapshot(HashRing Ring, IReadOnlyDictionary<Guid, NodeInfo> Nodes, DateTimeOffset LoadedAt)
{
    public static ClusterSnapshot Empty { get; } = new(HashRing.Empty, new Dictionary<Guid, NodeInfo>(), DateTimeOffset.MinValue);

    public int LiveCount => Ring.ServerCount;

    public NodeInfo? Node(Guid serverId) => Nodes.GetValueOrDefault(serverId);
}

/// <summary>
/// The gateway's current view of the cluster. Readers take <see cref="Current"/> once per
/// operation and never lock; <see cref="RingRefreshService"/> swaps in a new snapshot.
/// </summary>
public sealed class ClusterView
{
    private readonly SemaphoreSlim _refreshRequested = new(0, 1);
    private ClusterSnapshot _current = ClusterSnapshot.Empty;
    private TaskCompletionSource _updated = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ClusterSnapshot Current => Volatile.Read(ref _current);

    public void Update(ClusterSnapshot snapshot)
    {
        Volatile.Write(ref _current, snapshot);
        Interlocked.Exchange(ref _updated, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>
    /// Asks for a reload and waits for it (at most <paramref name="timeout"/>): for a caller whose
    /// every node call failed, perhaps because a node came back at a new address.
    /// </summary>
    public async Task<ClusterSnapshot> RefreshNowAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var updated = Volatile.Read(ref _updated).Task;
        RequestRefresh();
        try
        {
            await updated.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
        }

        return Current;
    }

    /// <summary>Asks for a reload now, e.g. after a node call failed; many requests collapse into one.</summary>
    public void RequestRefresh()
    {
        try
        {
            _refreshRequested.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    internal Task<bool> WaitForRefreshRequestAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _refreshRequested.WaitAsync(timeout, cancellationToken);
}
