using System.IO.Hashing;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Placement;
using S3Storage.Contracts.Storage;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Uploads;

/// <summary>
/// Stores a small file already read into memory: one PutChunks call per node carries every
/// chunk copy that node takes, so a file of six chunks at R=2 costs about five calls and one
/// shared fsync round per node instead of twelve calls and twelve fsync rounds. Each chunk is
/// proven to its node by its XxHash3, and the copies must agree on the SHA-256 the nodes
/// computed, as on the streaming path. A node that fails (after its retries) is replaced, for
/// each chunk it was to take, by the chunk's next node on the ring, and the chunk is sent
/// again from memory.
/// </summary>
public sealed partial class ChunkBatchWriter(
    NodeClients clients,
    NodeCalls nodeCalls,
    ClusterView cluster,
    GatewayMetrics metrics,
    IOptions<UploadOptions> uploadOptions,
    ILogger<ChunkBatchWriter> logger)
{
    /// <summary>
    /// Sends every chunk of <paramref name="file"/> to its nodes. <paramref name="recordCopies"/>
    /// saves a chunk's copies when one goes to a node that was not planned, before its bytes
    /// move. The returned chunks are already acknowledged.
    /// </summary>
    public async Task<IReadOnlyList<SentChunk>> WriteAsync(
        IReadOnlyList<ChunkPlacement> placements,
        IReadOnlyList<ChunkRange> ranges,
        ReadOnlyMemory<byte> file,
        Func<ChunkPlacement, CancellationToken, Task> recordCopies,
        CancellationToken cancellationToken)
    {
        var chunks = ranges.Select(range => new BatchedChunk(
            placements[range.Number],
            range,
            file.Slice((int)range.Offset, (int)range.Length),
            XxHash3.HashToUInt64(file.Span.Slice((int)range.Offset, (int)range.Length)))).ToList();

        while (true)
        {
            var byNode = new Dictionary<Guid, (NodeInfo Node, List<BatchedChunk> Chunks)>();
            foreach (var chunk in chunks)
            {
                var missing = chunk.Placement.Replicas - chunk.Holders.Count;
                var nodes = missing > 0 ? chunk.Placement.NextToOpen(missing) : [];
                if (nodes.Count == 0)
                {
                    continue;
                }

                if (chunk.Placement.StreamedTo(nodes))
                {
                    // A node that was not planned: its copy is recorded before it is made.
                    await recordCopies(chunk.Placement, cancellationToken);
                }

                chunk.Targets.AddRange(nodes);
                foreach (var node in nodes)
                {
                    if (!byNode.TryGetValue(node.ServerId, out var batch))
                    {
                        byNode[node.ServerId] = batch = (node, []);
                    }

                    batch.Chunks.Add(chunk);
                }
            }

            if (byNode.Count == 0)
            {
                break;
            }

            // The answers are recorded once all calls have ended: a chunk goes to several nodes,
            // and its lists are not for concurrent writers.
            var answers = await Task.WhenAll(byNode.Values.Select(batch => TrySendAsync(batch.Node, batch.Chunks, cancellationToken)));
            foreach (var (node, batch, response) in answers)
            {
                for (var i = 0; response is not null && i < batch.Count; i++)
                {
                    batch[i].Holders.Add(node);
                    batch[i].Sha256s.Add(response.Chunks[i].Sha256);
                }
            }
        }

        return chunks.Select(chunk => new SentChunk(chunk.Range, chunk.Placement.Chunk.ChunkId, chunk.Targets, Task.FromResult(Agreed(chunk)))).ToList();
    }

    /// <summary>The node's answer for <paramref name="chunks"/>, or null when it stored none of them.</summary>
    private async Task<(NodeInfo Node, List<BatchedChunk> Chunks, PutChunksResponse? Response)> TrySendAsync(NodeInfo node, List<BatchedChunk> chunks, CancellationToken cancellationToken)
    {
        try
        {
            return (node, chunks, await nodeCalls.RunAsync(node, token => SendAsync(node, chunks, token), cancellationToken));
        }
        catch (Exception e) when (e is TimeoutException || NodeFaults.IsNodeFailure(e, cancellationToken))
        {
            // Each of these chunks goes to its next node on the ring in the next round.
            LogBatchFailed(logger, e, node.Name, chunks.Count, uploadOptions.Value.NodeAttempts);
            metrics.Failover("upload");
            cluster.RequestRefresh();
            return (node, chunks, null);
        }
    }

    /// <summary>
    /// One PutChunks call. A node that takes more than <c>Uploads:StallTimeout</c> to accept the
    /// bytes, or as long again to store them, has stalled: that is a <see cref="TimeoutException"/>,
    /// which the retry pipeline does not repeat, so a stalled node costs a small upload one
    /// timeout rather than one per attempt.
    /// </summary>
    private async Task<PutChunksResponse> SendAsync(NodeInfo node, List<BatchedChunk> chunks, CancellationToken cancellationToken)
    {
        var stallTimeout = uploadOptions.Value.StallTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(stallTimeout);
        try
        {
            using var call = clients.For(node).PutChunks(cancellationToken: deadline.Token);
            foreach (var chunk in chunks)
            {
                await call.RequestStream.WriteAsync(new PutChunkRequest
                {
                    Header = new ChunkHeader
                    {
                        ChunkId = chunk.Placement.Chunk.ChunkId.ToString("D"),
                        Size = chunk.Range.Length,
                        FileId = chunk.Placement.Chunk.FileId.ToString("D"),
                        ChunkNumber = chunk.Range.Number,
                    },
                }, deadline.Token);
                for (var offset = 0; offset < chunk.Bytes.Length; offset += ChunkWriter.MessageSize)
                {
                    // The file's buffer outlives the call: WriteAsync has serialized the slice when it returns.
                    var data = chunk.Bytes.Slice(offset, Math.Min(ChunkWriter.MessageSize, chunk.Bytes.Length - offset));
                    await call.RequestStream.WriteAsync(new PutChunkRequest { Data = UnsafeByteOperations.UnsafeWrap(data) }, deadline.Token);
                }

                await call.RequestStream.WriteAsync(new PutChunkRequest { Trailer = new ChunkTrailer { Xxhash3 = chunk.XxHash3 } }, deadline.Token);
            }

            await call.RequestStream.CompleteAsync();
            deadline.CancelAfter(stallTimeout);
            var response = await call.ResponseAsync;
            if (response.Chunks.Count != chunks.Count
                || chunks.Where((chunk, i) => response.Chunks[i].ChunkId != chunk.Placement.Chunk.ChunkId.ToString("D") || response.Chunks[i].Size != chunk.Range.Length).Any())
            {
                throw new RpcException(new Status(StatusCode.Internal, $"{node.Name} answered PutChunks with chunks other than those sent."));
            }

            return response;
        }
        catch (Exception e) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{node.Name} did not store {chunks.Count} chunks within {stallTimeout.TotalSeconds:F1} s.", e);
        }
    }

    private StoredCopies Agreed(BatchedChunk chunk)
    {
        if (chunk.Holders.Count == 0)
        {
            return new StoredCopies([], null, $"No node stored chunk {chunk.Range.Number}: {chunk.Targets.Count} nodes were tried.");
        }

        return StoredCopies.Agreed(chunk.Range.Number, chunk.Holders, chunk.Sha256s, logger);
    }

    private sealed record BatchedChunk(ChunkPlacement Placement, ChunkRange Range, ReadOnlyMemory<byte> Bytes, ulong XxHash3)
    {
        /// <summary>Every node the chunk was sent to, acknowledged or not.</summary>
        public List<NodeInfo> Targets { get; } = [];

        public List<NodeInfo> Holders { get; } = [];

        public List<string> Sha256s { get; } = [];
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing {ChunkCount} chunks on {Node} failed in {Attempts} attempts; they go to their next nodes")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, string node, int chunkCount, int attempts);

}
