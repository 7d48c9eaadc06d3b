using System.Buffers;
using System.IO.Hashing;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Placement;
using S3Storage.Contracts.Storage;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Uploads;

/// <summary>A chunk whose bytes have all been sent; <see cref="Acknowledged"/> completes once the nodes have stored it.</summary>
public sealed record SentChunk(ChunkRange Range, Guid ChunkId, IReadOnlyList<NodeInfo> Targets, Task<StoredCopies> Acknowledged);

/// <summary>
/// The nodes that stored a chunk and the SHA-256 they computed of it; <see cref="Disagreement"/>
/// says why none counts when they computed different ones.
/// </summary>
public sealed record StoredCopies(IReadOnlyList<NodeInfo> Holders, string? Sha256, string? Disagreement)
{
    /// <summary>
    /// The copies the nodes acknowledged, with the SHA-256 each computed (in the same order),
    /// when they agree. Each node proved it received the bytes sent, so differing SHA-256s mean
    /// a node computes them wrongly; which one cannot be told, so no copy counts.
    /// </summary>
    public static StoredCopies Agreed(int chunkNumber, IReadOnlyList<NodeInfo> holders, IReadOnlyList<string> sha256s, ILogger logger)
    {
        if (sha256s.Distinct(StringComparer.Ordinal).Count() > 1)
        {
            var disagreement = string.Join(", ", holders.Select((node, i) => $"{node.Name}: {sha256s[i]}"));
            ChunkWriter.LogCopiesDisagree(logger, chunkNumber, disagreement);
            return new StoredCopies([], null, $"The nodes storing chunk {chunkNumber} computed different SHA-256s ({disagreement}).");
        }

        return new StoredCopies(holders, sha256s.Count > 0 ? sha256s[0] : null, null);
    }
}

/// <summary>
/// Streams one chunk of an upload to its replicas in parallel: every byte is read once from the
/// client, hashed into the file's SHA-256 and the chunk's XxHash3 from the same buffer, and sent
/// to each replica. Each node checks the XxHash3 (so it holds exactly what was sent) and answers
/// with the SHA-256 it computed; the copies must agree on it. A node that cannot be opened is
/// retried, then replaced by the next node on the ring;
/// a node that fails mid-chunk is dropped and the chunk goes on to the others (the uploader
/// copies it back to full replication afterwards).
/// </summary>
public sealed partial class ChunkWriter(
    NodeClients clients,
    NodeCalls nodeCalls,
    ClusterView cluster,
    GatewayMetrics metrics,
    IOptions<UploadOptions> uploadOptions,
    ILogger<ChunkWriter> logger)
{
    /// <summary>Bytes read from the client per pass: large reads cost far fewer syscalls than Kestrel's small ones.</summary>
    public const int ReadBufferSize = 1024 * 1024;

    /// <summary>Bytes per gRPC data message: 64 KiB keeps each ByteString off the large object heap (see the node's DataMessageSize).</summary>
    public const int MessageSize = 64 * 1024;

    /// <summary>
    /// Sends chunk <paramref name="range"/> of the file from <paramref name="source"/> to the
    /// nodes <paramref name="placement"/> names, its planned ones first.
    /// </summary>
    public async Task<SentChunk> WriteAsync(
        ChunkPlacement placement,
        ChunkRange range,
        UploadSource source,
        IncrementalHash fileHash,
        CancellationToken cancellationToken)
    {
        var header = new ChunkHeader
        {
            ChunkId = placement.Chunk.ChunkId.ToString("D"),
            Size = range.Length,
            FileId = placement.Chunk.FileId.ToString("D"),
            ChunkNumber = range.Number,
        };
        var streams = await OpenReplicasAsync(header, placement, cancellationToken);
        // The gateway hashes each byte with SHA-256 once, for the file: the chunk's SHA-256 comes
        // from the nodes. A second SHA-256 pass here cost about a second of CPU per GiB; an
        // XxHash3 proves the transfer for a few hundredths of that.
        var chunkHash = new XxHash3();
        // A small chunk rents a small buffer: the shared pool keeps what it is given back, and
        // 1 MiB arrays for 700-byte chunks of many small uploads kept tens of MiB alive.
        var bufferSize = (int)Math.Min(ReadBufferSize, Math.Max(range.Length, 1));
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            for (long sent = 0; sent < range.Length;)
            {
                var read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(bufferSize, range.Length - sent)), cancellationToken);
                fileHash.AppendData(buffer, 0, read);
                chunkHash.Append(buffer.AsSpan(0, read));
                for (var offset = 0; offset < read; offset += MessageSize)
                {
                    var message = buffer.AsMemory(offset, Math.Min(MessageSize, read - offset));
                    var results = await Task.WhenAll(streams.Select(s => s.WriteAsync(message)));
                    if (!results.Any(ok => ok))
                    {
                        throw NodesUnavailable($"Every node taking chunk {range.Number} failed: {Reasons(streams)}");
                    }
                }

                sent += read;
                metrics.BytesUploaded(read);
            }
        }
        catch
        {
            foreach (var stream in streams)
            {
                stream.Abort();
                stream.Dispose();
            }

            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        foreach (var dropped in streams.Where(s => s.Failure is not null))
        {
            NodeFailed(dropped.Node, range.Number, dropped.Failure!);
        }

        var acknowledged = FinishAsync(streams, chunkHash.GetCurrentHashAsUInt64(), range);
        return new SentChunk(range, placement.Chunk.ChunkId, streams.Select(s => s.Node).ToList(), acknowledged);
    }

    private async Task<StoredCopies> FinishAsync(IReadOnlyList<ReplicaStream> streams, ulong xxHash3, ChunkRange range)
    {
        var timeout = uploadOptions.Value.StoreTimeout;
        try
        {
            var responses = await Task.WhenAll(streams.Select(s => s.FinishAsync(xxHash3, timeout)));
            var stored = new List<NodeInfo>();
            var hashes = new List<string>();
            for (var i = 0; i < streams.Count; i++)
            {
                if (responses[i] is { } response)
                {
                    stored.Add(streams[i].Node);
                    hashes.Add(response.Sha256);
                }
                else
                {
                    NodeFailed(streams[i].Node, range.Number, streams[i].Failure!);
                }
            }

            return StoredCopies.Agreed(range.Number, stored, hashes, logger);
        }
        finally
        {
            foreach (var stream in streams)
            {
                stream.Dispose();
            }
        }
    }

    private async Task<List<ReplicaStream>> OpenReplicasAsync(ChunkHeader header, ChunkPlacement placement, CancellationToken cancellationToken)
    {
        var replicas = placement.Replicas;
        var opened = new List<ReplicaStream>(replicas);
        var tried = 0;
        try
        {
            while (opened.Count < replicas && placement.NextToOpen(replicas - opened.Count) is { Count: > 0 } batch)
            {
                // Open the missing replicas in parallel, each on the next untried node.
                tried += batch.Count;
                var attempts = await Task.WhenAll(batch.Select(node => TryOpenAsync(node, header, cancellationToken)));
                opened.AddRange(attempts.OfType<ReplicaStream>());
            }
        }
        catch
        {
            opened.ForEach(s => s.Dispose());
            throw;
        }

        if (opened.Count < replicas)
        {
            opened.ForEach(s =>
            {
                s.Abort();
                s.Dispose();
            });
            throw NodesUnavailable($"Only {opened.Count} of the {replicas} nodes chunk {header.ChunkNumber} needs accepted it ({tried} live nodes tried).");
        }

        return opened;
    }

    private async Task<ReplicaStream?> TryOpenAsync(NodeInfo node, ChunkHeader header, CancellationToken cancellationToken)
    {
        var stallTimeout = uploadOptions.Value.StallTimeout;
        try
        {
            return await nodeCalls.RunAsync(node, token => ReplicaStream.OpenAsync(clients, node, header, stallTimeout, token), cancellationToken);
        }
        catch (Exception e) when (NodeFaults.IsNodeFailure(e, cancellationToken))
        {
            // The next node on the ring takes this one's place.
            LogOpenFailed(logger, e, node.Name, header.ChunkNumber, uploadOptions.Value.NodeAttempts);
            metrics.Failover("upload");
            cluster.RequestRefresh();
            return null;
        }
    }

    private void NodeFailed(NodeInfo node, int chunkNumber, Exception reason)
    {
        metrics.Failover("upload");
        cluster.RequestRefresh();
        LogReplicaDropped(logger, reason, node.Name, chunkNumber);
    }

    private static StoreException NodesUnavailable(string detail) => new(StoreFailure.NodesUnavailable, "Not enough storage nodes are available", detail);

    private static string Reasons(IEnumerable<ReplicaStream> streams) =>
        string.Join("; ", streams.Select(s => $"{s.Node.Name}: {s.Failure?.Message}"));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not open chunk {ChunkNumber} on {Node} in {Attempts} attempts; trying the next node")]
    private static partial void LogOpenFailed(ILogger logger, Exception exception, string node, int chunkNumber, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "The copies of chunk {ChunkNumber} disagree on its SHA-256 ({Disagreement}); the upload fails")]
    internal static partial void LogCopiesDisagree(ILogger logger, int chunkNumber, string disagreement);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped {Node} from chunk {ChunkNumber}")]
    private static partial void LogReplicaDropped(ILogger logger, Exception exception, string node, int chunkNumber);
}
