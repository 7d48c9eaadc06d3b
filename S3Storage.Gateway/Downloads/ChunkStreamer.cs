using Grpc.Core;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Storage;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Downloads;

/// <summary>Bytes <c>[Offset, Offset + Length)</c> of one chunk, and the nodes that hold it, best first.</summary>
public sealed record ChunkSlice(Guid ChunkId, int ChunkNumber, long ChunkSize, string Sha256, long Offset, long Length, IReadOnlyList<NodeInfo> Replicas);

/// <summary>Every replica of a chunk failed: the bytes cannot be served.</summary>
public sealed class ReplicasExhaustedException(string message) : Exception(message);

/// <summary>
/// Streams chunk slices to a client in order, opening the next chunk's read while the current
/// one is sent (the node fills the stream's HTTP/2 window meanwhile). When a node fails or
/// stalls mid-chunk, the read resumes on the next replica at the exact offset reached: nodes
/// verify each block before sending it, so every byte already sent was good.
/// </summary>
public sealed partial class ChunkStreamer(
    NodeClients clients,
    ClusterView cluster,
    ReplicaStatusRecorder recorder,
    GatewayMetrics metrics,
    IOptions<UploadOptions> options,
    ILogger<ChunkStreamer> logger)
{
    private NodeClients Clients => clients;

    private ClusterView Cluster => cluster;

    private GatewayMetrics Metrics => metrics;

    private TimeSpan StallTimeout => options.Value.StallTimeout;

    private ILogger Logger => logger;

    private ReplicaStatusRecorder Recorder => recorder;

    /// <summary>Opens the first slice on a replica that answers; throws when none does.</summary>
    public async Task<SliceReader?> OpenFirstAsync(IReadOnlyList<ChunkSlice> slices, CancellationToken cancellationToken)
    {
        var first = slices.FirstOrDefault(s => s.Length > 0);
        if (first is null)
        {
            return null;
        }

        var reader = new SliceReader(this, first);
        await reader.PrepareAsync(cancellationToken);
        return reader;
    }

    public async Task StreamAsync(IReadOnlyList<ChunkSlice> slices, SliceReader? first, Stream destination, CancellationToken cancellationToken)
    {
        var pending = slices.Where(s => s.Length > 0).ToList();
        if (pending.Count == 0)
        {
            return;
        }

        var current = first ?? new SliceReader(this, pending[0]);
        try
        {
            for (var i = 0; i < pending.Count; i++)
            {
                SliceReader? next = null;
                if (i + 1 < pending.Count)
                {
                    next = new SliceReader(this, pending[i + 1]);
                    next.Start(cancellationToken);
                }

                try
                {
                    await current.CopyToAsync(destination, cancellationToken);
                }
                finally
                {
                    current.Dispose();
                }

                if (next is null)
                {
                    break;
                }

                current = next;
            }
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    /// <summary>One slice read with fail-over across its replicas.</summary>
    public sealed class SliceReader(ChunkStreamer owner, ChunkSlice slice) : IDisposable
    {
        private static readonly TimeSpan RefreshWait = TimeSpan.FromSeconds(3);

        private IReadOnlyList<NodeInfo> _replicas = slice.Replicas;
        private bool _refreshed;
        private AsyncServerStreamingCall<GetChunkResponse>? _call;
        private CancellationTokenSource? _stall;
        private int _replica;
        private long _delivered;
        private bool _prepared;

        /// <summary>Starts reading from the first replica without waiting for it.</summary>
        public void Start(CancellationToken cancellationToken)
        {
            if (_call is null && _replica < _replicas.Count)
            {
                Open(cancellationToken);
            }
        }

        /// <summary>Reads the node's info message, failing over until a replica answers.</summary>
        public async Task PrepareAsync(CancellationToken cancellationToken)
        {
            while (!_prepared)
            {
                Start(cancellationToken);
                if (_call is null)
                {
                    throw Exhausted();
                }

                try
                {
                    await ReadInfoAsync(cancellationToken);
                }
                catch (Exception e) when (IsNodeFailure(e, cancellationToken))
                {
                    await FailOverAsync(e);
                }
            }
        }

        public async Task CopyToAsync(Stream destination, CancellationToken cancellationToken)
        {
            while (_delivered < slice.Length)
            {
                await PrepareAsync(cancellationToken);
                try
                {
                    while (await _call!.ResponseStream.MoveNext(StallToken()))
                    {
                        var data = _call.ResponseStream.Current.Data;
                        if (_delivered + data.Length > slice.Length)
                        {
                            throw new RpcException(new Status(StatusCode.DataLoss, "The node sent more bytes than asked."));
                        }

                        // A failure here is the client's, not the node's: it ends the download.
                        await WriteToClientAsync(destination, data.Memory, cancellationToken);
                        _delivered += data.Length;
                    }

                    if (_delivered < slice.Length)
                    {
                        throw new RpcException(new Status(StatusCode.DataLoss, $"The node ended the chunk after {_delivered} of {slice.Length} bytes."));
                    }
                }
                catch (Exception e) when (IsNodeFailure(e, cancellationToken))
                {
                    await FailOverAsync(e);
                }
            }

            owner.Metrics.BytesDownloaded(slice.Length);
        }

        public void Dispose()
        {
            _call?.Dispose();
            _stall?.Dispose();
        }

        private static async Task WriteToClientAsync(Stream destination, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            try
            {
                await destination.WriteAsync(data, cancellationToken);
            }
            catch (Exception e)
            {
                throw new ClientWriteException(e);
            }
        }

        private void Open(CancellationToken cancellationToken)
        {
            var node = _replicas[_replica];
            _stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _stall.CancelAfter(owner.StallTimeout);
            _call = owner.Clients.For(node).GetChunk(
                new GetChunkRequest { ChunkId = slice.ChunkId.ToString("D"), Offset = slice.Offset + _delivered, Length = slice.Length - _delivered },
                cancellationToken: _stall.Token);
            _prepared = false;
        }

        private async Task ReadInfoAsync(CancellationToken cancellationToken)
        {
            if (!await _call!.ResponseStream.MoveNext(StallToken()) || _call.ResponseStream.Current.PayloadCase != GetChunkResponse.PayloadOneofCase.Info)
            {
                throw new RpcException(new Status(StatusCode.DataLoss, "The node sent no chunk info."));
            }

            var info = _call.ResponseStream.Current.Info;
            if (info.Size != slice.ChunkSize || info.Sha256 != slice.Sha256)
            {
                throw new RpcException(new Status(StatusCode.DataLoss, $"The node holds chunk {slice.ChunkId} with {info.Size} bytes and SHA-256 {info.Sha256}, not the recorded ones."));
            }

            _prepared = true;
        }

        private CancellationToken StallToken()
        {
            var stall = _stall!;
            stall.CancelAfter(owner.StallTimeout);
            return stall.Token;
        }

        private async Task FailOverAsync(Exception reason)
        {
            var node = _replicas[_replica];
            LogFailover(owner.Logger, slice.ChunkNumber, node.Name, _delivered, reason.Message);
            if (ReplicaStatusRecorder.StatusFor(reason) is { } status)
            {
                await owner.Recorder.RecordAsync(slice.ChunkId, node, status);
            }

            owner.Metrics.Failover("download");
            owner.Cluster.RequestRefresh();
            _call?.Dispose();
            _stall?.Dispose();
            _call = null;
            _stall = null;
            _prepared = false;
            _replica++;
            if (_replica < _replicas.Count)
            {
                return;
            }

            // Every copy failed with the addresses we had: a node may have come back at a new
            // address, or come back at all. Try the copies once more with a fresh view.
            if (!_refreshed)
            {
                _refreshed = true;
                var snapshot = await owner.Cluster.RefreshNowAsync(RefreshWait, CancellationToken.None);
                _replicas = _replicas
                    .Select(r => snapshot.Node(r.ServerId))
                    .OfType<NodeInfo>()
                    .OrderByDescending(n => n.Live)
                    .ToList();
                _replica = 0;
                if (_replicas.Count > 0)
                {
                    return;
                }
            }

            throw Exhausted();
        }

        private ReplicasExhaustedException Exhausted() =>
            new($"No replica of chunk {slice.ChunkNumber} ({slice.ChunkId}) could be read; tried {string.Join(", ", _replicas.Select(r => r.Name))}.");

        private static bool IsNodeFailure(Exception e, CancellationToken cancellationToken) =>
            e is not ClientWriteException
            && !cancellationToken.IsCancellationRequested
            && e is RpcException or IOException or OperationCanceledException or HttpRequestException;
    }

    /// <summary>Writing to the client failed: the client is gone, no replica can help.</summary>
    public sealed class ClientWriteException(Exception inner) : IOException("The client stopped reading.", inner);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading chunk {ChunkNumber} from {Node} failed after {Delivered} bytes ({Reason}); trying the next replica")]
    private static partial void LogFailover(ILogger logger, int chunkNumber, string node, long delivered, string reason);
}
