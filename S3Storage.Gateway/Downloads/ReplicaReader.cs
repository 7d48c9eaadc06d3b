using Grpc.Core;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Storage;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Downloads;

/// <summary>A chunk of a stored file and the nodes that hold a copy of it, best first.</summary>
public sealed record ChunkCopies(Guid ChunkId, int ChunkNumber, long ChunkSize, string Sha256, IReadOnlyList<NodeInfo> Replicas);

/// <summary>What every <see cref="ReplicaReader"/> needs from the gateway.</summary>
public sealed class ReplicaReaderServices(
    NodeClients clients,
    ClusterView cluster,
    ReplicaStatusRecorder recorder,
    GatewayMetrics metrics,
    IOptions<UploadOptions> options,
    ILogger<ReplicaReader> logger)
{
    public NodeClients Clients { get; } = clients;

    public ClusterView Cluster { get; } = cluster;

    public ReplicaStatusRecorder Recorder { get; } = recorder;

    public GatewayMetrics Metrics { get; } = metrics;

    public TimeSpan StallTimeout => options.Value.StallTimeout;

    public ILogger<ReplicaReader> Logger { get; } = logger;
}

/// <summary>
/// Reads one chunk from an offset to its end, failing over across its copies: when a node
/// fails or stalls mid-chunk, the read resumes on the next copy at the exact offset reached.
/// Nodes verify each block before sending it, so every byte already handed out was good.
/// </summary>
public sealed partial class ReplicaReader(ChunkCopies chunk, long offset, ReplicaReaderServices services) : IDisposable
{
    private static readonly TimeSpan RefreshWait = TimeSpan.FromSeconds(3);

    private IReadOnlyList<NodeInfo> _replicas = chunk.Replicas;
    private bool _refreshed;
    private AsyncServerStreamingCall<GetChunkResponse>? _call;
    private CancellationTokenSource? _stall;
    private int _replica;
    private long _delivered;
    private bool _prepared;

    public ChunkCopies Chunk => chunk;

    /// <summary>Where in the chunk this reader started.</summary>
    public long Offset => offset;

    /// <summary>Starts the call to the first copy without waiting for it: the node fills the stream's window meanwhile.</summary>
    public void Start(CancellationToken cancellationToken)
    {
        if (_call is null && _replica < _replicas.Count)
        {
            Open(cancellationToken);
        }
    }

    /// <summary>
    /// The next block of the chunk; empty at its end. Throws <see cref="StoreException"/>
    /// (<see cref="StoreFailure.NodesUnavailable"/>) when no copy can be read.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(CancellationToken cancellationToken)
    {
        var wanted = chunk.ChunkSize - offset;
        while (_delivered < wanted)
        {
            Start(cancellationToken);
            if (_call is null)
            {
                throw Exhausted();
            }

            try
            {
                if (!_prepared)
                {
                    await ReadInfoAsync();
                }

                if (!await _call.ResponseStream.MoveNext(StallToken()))
                {
                    throw new RpcException(new Status(StatusCode.DataLoss, $"The node ended the chunk after {_delivered} of {wanted} bytes."));
                }

                var data = _call.ResponseStream.Current.Data;
                if (_delivered + data.Length > wanted)
                {
                    throw new RpcException(new Status(StatusCode.DataLoss, "The node sent more bytes than asked."));
                }

                _delivered += data.Length;
                return data.Memory;
            }
            catch (Exception e) when (NodeFaults.IsNodeFailure(e, cancellationToken))
            {
                await FailOverAsync(e);
            }
        }

        return ReadOnlyMemory<byte>.Empty;
    }

    /// <summary>
    /// Reads the end of the call once every byte has been handed out, so it ends as the node
    /// ended it rather than being cancelled. What happens there no longer matters to the data.
    /// </summary>
    public async Task CompleteAsync()
    {
        if (_call is null || _delivered < chunk.ChunkSize - offset)
        {
            return;
        }

        try
        {
            await _call.ResponseStream.MoveNext(StallToken());
        }
        catch (Exception e) when (e is RpcException or IOException or OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _call?.Dispose();
        _stall?.Dispose();
    }

    private void Open(CancellationToken cancellationToken)
    {
        var node = _replicas[_replica];
        _stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _stall.CancelAfter(services.StallTimeout);
        var from = offset + _delivered;
        _call = services.Clients.For(node).GetChunk(
            new GetChunkRequest { ChunkId = chunk.ChunkId.ToString("D"), Offset = from, Length = chunk.ChunkSize - from },
            cancellationToken: _stall.Token);
        _prepared = false;
    }

    private async Task ReadInfoAsync()
    {
        if (!await _call!.ResponseStream.MoveNext(StallToken()) || _call.ResponseStream.Current.PayloadCase != GetChunkResponse.PayloadOneofCase.Info)
        {
            throw new RpcException(new Status(StatusCode.DataLoss, "The node sent no chunk info."));
        }

        var info = _call.ResponseStream.Current.Info;
        if (info.Size != chunk.ChunkSize || info.Sha256 != chunk.Sha256)
        {
            throw new RpcException(new Status(StatusCode.DataLoss, $"The node holds chunk {chunk.ChunkId} with {info.Size} bytes and SHA-256 {info.Sha256}, not the recorded ones."));
        }

        _prepared = true;
    }

    private CancellationToken StallToken()
    {
        _stall!.CancelAfter(services.StallTimeout);
        return _stall.Token;
    }

    private async Task FailOverAsync(Exception reason)
    {
        var node = _replicas[_replica];
        LogFailover(services.Logger, reason, chunk.ChunkNumber, node.Name, offset + _delivered);
        if (ReplicaStatusRecorder.StatusFor(reason) is { } status)
        {
            await services.Recorder.RecordAsync(chunk.ChunkId, node, status);
        }

        services.Metrics.Failover("download");
        services.Cluster.RequestRefresh();
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
            var snapshot = await services.Cluster.RefreshNowAsync(RefreshWait, CancellationToken.None);
            _replicas = _replicas
                .Select(r => snapshot.Node(r.ServerId))
                .OfType<NodeInfo>()
                .OrderByDescending(n => n.Readable)
                .ToList();
            _replica = 0;
            if (_replicas.Count > 0)
            {
                return;
            }
        }

        throw Exhausted();
    }

    private StoreException Exhausted() => new(
        StoreFailure.NodesUnavailable,
        "The file cannot be read right now",
        $"No copy of chunk {chunk.ChunkNumber} ({chunk.ChunkId}) could be read; tried {string.Join(", ", _replicas.Select(r => r.Name))}.");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading chunk {ChunkNumber} from {Node} failed at offset {Offset}; trying the next copy")]
    private static partial void LogFailover(ILogger logger, Exception exception, int chunkNumber, string node, long offset);
}
