namespace S3Storage.Gateway.Maintenance;

/// <summary>
/// Asks this gateway's repair for a pass at its next tick, from the data path: a read that
/// found a copy corrupt or missing. A flag of its own, so the data path need not depend on the
/// repair service (which depends on the data path's readers).
/// </summary>
public sealed class RepairRequests
{
    private int _requested;

    public void Request() => Volatile.Write(ref _requested, 1);

    /// <summary>True once per request: the pass that takes it answers it.</summary>
    public bool Take() => Interlocked.Exchange(ref _requested, 0) == 1;
}
