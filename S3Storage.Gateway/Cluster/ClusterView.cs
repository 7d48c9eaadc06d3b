using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;

namespace S3Storage.Gateway.Cluster;

/// <summary>
/// A storage node as the gateway knows it. <see cref="Live"/>: its heartbeat is fresh and it is
/// not inactive. <see cref="InRing"/>: active and live, so on the ring. What those mean for the
/// data path is defined once, here: <see cref="Readable"/>, <see cref="Placeable"/> and
/// <see cref="Keeps"/>.
/// </summary>
public sealed record NodeInfo(Guid ServerId, string Name, string Address, ServerStatus Status, bool Live, bool InRing, TimeSpan? HeartbeatAge = null)
{
    /// <summary>Reads may go to it, a draining node's included: it still serves what it holds.</summary>
    public bool Readable => Live;

    /// <summary>New copies may go to it: live, active and on the ring (a draining node is not).</summary>
    public bool Placeable => InRing;

    /// <summary>A stored copy on it counts toward its chunk's replication: readable, and not leaving as a draining node is.</summary>
    public bool Keeps => Live && Status == ServerStatus.Active;
}

/// <summary>One consistent picture of the cluster: the ring of live nodes and every known node's address.</summary>
public sealed record ClusterSnapshot(HashRing Ring, IReadOnlyDictionary<Guid, NodeInfo> Nodes, DateTimeOffset LoadedAt)
{
    public static ClusterSnapshot Empty { get; } = new(HashRing.Empty, new Dictionary<Guid, NodeInfo>(), DateTimeOffset.MinValue);

    /// <summary>Nodes new copies may go to: those on the ring.</summary>
    public int PlaceableCount => Ring.ServerCount;

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
