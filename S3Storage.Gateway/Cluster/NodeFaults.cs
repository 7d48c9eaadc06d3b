using Grpc.Core;

namespace S3Storage.Gateway.Cluster;

/// <summary>Which exceptions from a call to a storage node mean "this node failed, try another", as opposed to the caller giving up.</summary>
public static class NodeFaults
{
    /// <summary>
    /// The node failed, stalled or sent something wrong, and the caller (whose token is
    /// <paramref name="callerCancelled"/>) still wants the work done.
    /// </summary>
    public static bool IsNodeFailure(Exception exception, CancellationToken callerCancelled) =>
        !callerCancelled.IsCancellationRequested
        && exception is RpcException or IOException or HttpRequestException or OperationCanceledException or InvalidOperationException;
}
