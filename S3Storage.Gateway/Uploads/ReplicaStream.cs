using Google.Protobuf;
using Grpc.Core;
using S3Storage.Contracts.Storage;
using S3Storage.Gateway.Cluster;

namespace S3Storage.Gateway.Uploads;

/// <summary>
/// One PutChunk call to one node. A node that accepts nothing for the stall timeout is cut off
/// (its call is cancelled, so the node drops its partial file) and the chunk goes on to the
/// other replicas.
/// </summary>
public sealed class ReplicaStream : IDisposable
{
    private readonly AsyncClientStreamingCall<PutChunkRequest, PutChunkResponse> _call;
    private readonly CancellationTokenSource _cancel;
    private readonly TimeSpan _stallTimeout;

    private ReplicaStream(NodeInfo node, AsyncClientStreamingCall<PutChunkRequest, PutChunkResponse> call, CancellationTokenSource cancel, TimeSpan stallTimeout)
    {
        Node = node;
        _call = call;
        _cancel = cancel;
        _stallTimeout = stallTimeout;
    }

    public NodeInfo Node { get; }

    /// <summary>Why the replica was dropped; null while it is healthy.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Starts the call and sends the header; throws when the node cannot take it.</summary>
    public static async Task<ReplicaStream> OpenAsync(NodeClients clients, NodeInfo node, ChunkHeader header, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var call = clients.For(node).PutChunk(cancellationToken: cancel.Token);
        var stream = new ReplicaStream(node, call, cancel, stallTimeout);
        try
        {
            await stream.SendAsync(new PutChunkRequest { Header = header });
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Sends bytes; false (and the replica dropped) when the node failed or stalled.</summary>
    public async Task<bool> WriteAsync(ReadOnlyMemory<byte> data)
    {
        if (Failure is not null)
        {
            return false;
        }

        try
        {
            // The buffer is reused once this returns: WriteAsync has serialized it by then.
            await SendAsync(new PutChunkRequest { Data = UnsafeByteOperations.UnsafeWrap(data) });
            return true;
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or OperationCanceledException or IOException)
        {
            Drop(e);
            return false;
        }
    }

    /// <summary>Sends the chunk's XxHash3 and waits for the node to check and store it; null when it did not.</summary>
    public async Task<PutChunkResponse?> FinishAsync(ulong xxHash3, TimeSpan timeout)
    {
        if (Failure is not null)
        {
            return null;
        }

        try
        {
            await SendAsync(new PutChunkRequest { Trailer = new ChunkTrailer { Xxhash3 = xxHash3 } });
            await _call.RequestStream.CompleteAsync();
            // Storing ends in an fsync of the whole chunk: give it more than a stall.
            _cancel.CancelAfter(timeout);
            var response = await _call.ResponseAsync;
            return response;
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or OperationCanceledException or IOException)
        {
            Drop(e);
            return null;
        }
    }

    /// <summary>Ends the call; the node removes whatever it had written of the chunk.</summary>
    public void Abort()
    {
        if (!_cancel.IsCancellationRequested)
        {
            _cancel.Cancel();
        }
    }

    public void Dispose()
    {
        _call.Dispose();
        _cancel.Dispose();
    }

    private async Task SendAsync(PutChunkRequest message)
    {
        _cancel.CancelAfter(_stallTimeout);
        await _call.RequestStream.WriteAsync(message, _cancel.Token);
        _cancel.CancelAfter(Timeout.InfiniteTimeSpan);
    }

    private void Drop(Exception reason)
    {
        Failure ??= reason;
        Abort();
    }
}
