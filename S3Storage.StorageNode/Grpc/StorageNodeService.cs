using System.Runtime.CompilerServices;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using global::Grpc.Core;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Storage;
using S3Storage.StorageNode.Chunks;
using S3Storage.StorageNode.Cluster;
using NodeServiceBase = S3Storage.Contracts.Storage.StorageNode.StorageNodeBase;

namespace S3Storage.StorageNode.Grpc;

/// <summary>The node's gRPC face: every call of storage.proto, over the chunk store.</summary>
public sealed class StorageNodeService(
    ChunkStore store,
    NodeIdentity identity,
    IOptions<NodeOptions> nodeOptions,
    IOptions<StorageOptions> storageOptions,
    ILogger<StorageNodeService> logger) : NodeServiceBase
{
    /// <summary>
    /// Bytes per data message. 64 KiB keeps each protobuf ByteString off the large object heap
    /// (85 KB); the spike in ../shared/reference/toolchain-notes.md measured 1 MiB messages
    /// slower than 64 KiB for exactly that reason.
    /// </summary>
    public const int DataMessageSize = 64 * 1024;

    /// <summary>Chunks one PutChunks call may carry: a small file's six at any replication, with room to spare, and a bound on open temporary files per call.</summary>
    public const int MaxBatchChunks = 64;

    private const int DefaultListBatch = 1000;
    private const int MaxListBatch = 10_000;

    public override async Task<PutChunkResponse> PutChunk(IAsyncStreamReader<PutChunkRequest> requestStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        if (!await requestStream.MoveNext(cancellationToken) || requestStream.Current.PayloadCase != PutChunkRequest.PayloadOneofCase.Header)
        {
            throw new ChunkStoreException(ChunkError.InvalidArgument, "The first message of PutChunk must be the chunk header.");
        }

        var messages = new PutMessages(requestStream, trailerEndsChunk: false);
        ChunkDescriptor chunk;
        ChunkPutResult put;
        try
        {
            chunk = Describe(requestStream.Current.Header);
            put = await store.WriteAsync(chunk, messages.DataAsync(cancellationToken), () => messages.Trailer, cancellationToken);
        }
        catch (ChunkStoreException e) when (e.Error is not ChunkError.Cancelled && !cancellationToken.IsCancellationRequested)
        {
            await messages.DrainAsync(cancellationToken);
            throw;
        }

        return new PutChunkResponse
        {
            ChunkId = chunk.Id.Value,
            Size = chunk.Size,
            Sha256 = Convert.ToHexStringLower(put.Sha256),
            AlreadyPresent = !put.Written,
        };
    }

    /// <summary>
    /// Several whole chunks in one call, each ended by its trailer: every chunk is written and
    /// verified as it arrives, then all are made durable together (<see cref="ChunkStore.CommitAsync"/>).
    /// One call, one shared fsync round and one answer for the chunks of a small file that
    /// land here, instead of a call and an fsync each.
    /// </summary>
    public override async Task<PutChunksResponse> PutChunks(IAsyncStreamReader<PutChunkRequest> requestStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        var messages = new PutMessages(requestStream, trailerEndsChunk: true);
        var prepared = new List<PreparedChunk>();
        try
        {
            while (await messages.NextHeaderAsync(cancellationToken) is { } header)
            {
                if (prepared.Count == MaxBatchChunks)
                {
                    throw new ChunkStoreException(ChunkError.InvalidArgument, $"A PutChunks call carries at most {MaxBatchChunks} chunks.");
                }

                var chunk = Describe(header);
                if (prepared.Any(p => p.Descriptor.Id == chunk.Id))
                {
                    throw new ChunkStoreException(ChunkError.InvalidArgument, $"Chunk {chunk.Id} appears twice in one PutChunks call.");
                }

                prepared.Add(await store.PrepareAsync(chunk, messages.DataAsync(cancellationToken), () => messages.Trailer, cancellationToken));
                // A chunk found already stored is answered without its bytes: skip them.
                await messages.SkipRestOfChunkAsync(cancellationToken);
            }

            if (prepared.Count == 0)
            {
                throw new ChunkStoreException(ChunkError.InvalidArgument, "A PutChunks call carries at least one chunk.");
            }

            var results = await store.CommitAsync(prepared, cancellationToken);
            var response = new PutChunksResponse();
            for (var i = 0; i < prepared.Count; i++)
            {
                response.Chunks.Add(new PutChunkResponse
                {
                    ChunkId = prepared[i].Descriptor.Id.Value,
                    Size = prepared[i].Descriptor.Size,
                    Sha256 = Convert.ToHexStringLower(results[i].Sha256),
                    AlreadyPresent = !results[i].Written,
                });
            }

            return response;
        }
        catch (ChunkStoreException e) when (e.Error is not ChunkError.Cancelled && !cancellationToken.IsCancellationRequested)
        {
            await messages.DrainAsync(cancellationToken);
            throw;
        }
        finally
        {
            foreach (var chunk in prepared)
            {
                await chunk.DisposeAsync();
            }
        }
    }

    public override async Task GetChunk(GetChunkRequest request, IServerStreamWriter<GetChunkResponse> responseStream, ServerCallContext context)
    {
        var id = ChunkId.Parse(request.ChunkId);
        await using var reader = await store.OpenReadAsync(id, context.CancellationToken);
        var header = reader.Header;
        if (request.Offset < 0 || request.Offset > header.DataLength)
        {
            throw new ChunkStoreException(ChunkError.OutOfRange, $"Offset {request.Offset} is outside chunk {id} of {header.DataLength} bytes.");
        }

        var length = request.HasLength ? request.Length : header.DataLength - request.Offset;
        await responseStream.WriteAsync(
            new GetChunkResponse { Info = new ChunkInfo { ChunkId = id.Value, Size = header.DataLength, Sha256 = header.Sha256Hex } },
            context.CancellationToken);

        await foreach (var piece in reader.ReadAsync(request.Offset, length, DataMessageSize, logger, context.CancellationToken))
        {
            // The piece is a pooled buffer: WriteAsync has serialized it into the response
            // before it returns, so wrapping it without a copy is safe.
            await responseStream.WriteAsync(new GetChunkResponse { Data = UnsafeByteOperations.UnsafeWrap(piece) }, context.CancellationToken);
            store.RecordRead(piece.Length);
        }
    }

    public override async Task<DeleteChunkResponse> DeleteChunk(DeleteChunkRequest request, ServerCallContext context)
    {
        var (existed, bytesFreed) = await store.DeleteAsync(ChunkId.Parse(request.ChunkId));
        return new DeleteChunkResponse { Existed = existed, BytesFreed = bytesFreed };
    }

    public override Task<HealthCheckResponse> HealthCheck(HealthCheckRequest request, ServerCallContext context)
    {
        var response = new HealthCheckResponse
        {
            ServerId = identity.ServerId.ToString("D"),
            Name = nodeOptions.Value.Name,
            CorruptChunks = store.CorruptCount,
            Status = HealthCheckResponse.Types.ServingStatus.Serving,
        };
        if (store.Draining)
        {
            response.Status = HealthCheckResponse.Types.ServingStatus.Draining;
            response.Detail = "shutting down: reads are served, new chunks are refused";
        }
        else if (store.CorruptCount > 0)
        {
            response.Detail = $"{store.CorruptCount} corrupt chunks found; their other replicas must be copied back";
        }

        return Task.FromResult(response);
    }

    public override Task<GetStatsResponse> GetStats(GetStatsRequest request, ServerCallContext context) =>
        Task.FromResult(new GetStatsResponse
        {
            ServerId = identity.ServerId.ToString("D"),
            Name = nodeOptions.Value.Name,
            TotalSpace = store.TotalSpace(),
            AvailableSpace = store.FreeSpace(),
            UsedSpace = store.UsedBytes,
            ChunkCount = store.ChunkCount,
            CorruptChunks = store.CorruptCount,
            BytesWritten = store.BytesWritten,
            BytesRead = store.BytesRead,
            IoErrors = store.IoErrors,
            StartedAt = Timestamp.FromDateTimeOffset(identity.StartedAt),
        });

    public override async Task ListChunks(ListChunksRequest request, IServerStreamWriter<ListChunksResponse> responseStream, ServerCallContext context)
    {
        if (request.BatchSize is < 0 or > MaxListBatch)
        {
            throw new ChunkStoreException(ChunkError.InvalidArgument, $"batch_size must be between 0 and {MaxListBatch}, not {request.BatchSize}.");
        }

        var batchSize = request.BatchSize == 0 ? DefaultListBatch : request.BatchSize;
        var batch = new ListChunksResponse();
        await foreach (var entry in store.ListAsync(request.StartAfter, context.CancellationToken))
        {
            batch.Chunks.Add(new ChunkEntry
            {
                ChunkId = entry.Id.Value,
                Size = entry.Header.DataLength,
                Sha256 = entry.Header.Sha256Hex,
                FileId = entry.Header.FileId.ToString("D"),
                ChunkNumber = entry.Header.ChunkNumber,
                StoredAt = Timestamp.FromDateTimeOffset(entry.Header.StoredAt),
            });
            if (batch.Chunks.Count == batchSize)
            {
                await responseStream.WriteAsync(batch, context.CancellationToken);
                batch = new ListChunksResponse();
            }
        }

        if (batch.Chunks.Count > 0)
        {
            await responseStream.WriteAsync(batch, context.CancellationToken);
        }
    }

    private ChunkDescriptor Describe(ChunkHeader header)
    {
        var id = ChunkId.Parse(header.ChunkId);
        var maxSize = storageOptions.Value.MaxFileSize;
        if (header.Size < 0 || header.Size > maxSize)
        {
            throw new ChunkStoreException(ChunkError.InvalidArgument, $"Chunk size {header.Size} is outside 0..{maxSize}.");
        }

        var sha256 = header.Sha256.Length == 0 ? null : ParseSha256(header.Sha256);

        var fileId = Guid.Empty;
        if (header.FileId.Length > 0 && !Guid.TryParseExact(header.FileId, "D", out fileId))
        {
            throw new ChunkStoreException(ChunkError.InvalidArgument, $"file_id must be a UUID, not '{header.FileId}'.");
        }

        if (header.ChunkNumber < 0)
        {
            throw new ChunkStoreException(ChunkError.InvalidArgument, $"chunk_number must not be negative, not {header.ChunkNumber}.");
        }

        return new ChunkDescriptor(id, header.Size, sha256, fileId, header.ChunkNumber);
    }

    private static byte[] ParseSha256(string text) =>
        text.Length == 64 && text.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'))
            ? Convert.FromHexString(text)
            : throw new ChunkStoreException(ChunkError.InvalidArgument, $"sha256 must be 64 lowercase hex digits, not '{text}'.");

    /// <summary>
    /// The messages of a put: for PutChunk, one chunk's data and its optional trailer, after
    /// which nothing may follow; for PutChunks (<c>trailerEndsChunk</c>), chunk after chunk,
    /// each a header, data, and the trailer that ends it.
    /// </summary>
    private sealed class PutMessages(IAsyncStreamReader<PutChunkRequest> requestStream, bool trailerEndsChunk)
    {
        /// <summary>
        /// A refusal answered while the client still streams resets the HTTP/2 stream with
        /// megabytes in flight, and under load that has cost the whole connection, the next
        /// call on it included (HttpClient then retries that call without its first messages).
        /// Reading on for a bounded while lets most refusals end the stream cleanly.
        /// </summary>
        private const long MaxDrainBytes = 2L * 16 * 1024 * 1024;

        private static readonly TimeSpan MaxDrainTime = TimeSpan.FromSeconds(2);

        private bool _ended;
        private bool _chunkEnded;

        public ChunkTrailerDigest? Trailer { get; private set; }

        /// <summary>The next chunk's header in a PutChunks call; null at the end of the call.</summary>
        public async Task<ChunkHeader?> NextHeaderAsync(CancellationToken cancellationToken)
        {
            if (!await requestStream.MoveNext(cancellationToken))
            {
                _ended = true;
                return null;
            }

            if (requestStream.Current.PayloadCase != PutChunkRequest.PayloadOneofCase.Header)
            {
                throw new ChunkStoreException(ChunkError.InvalidArgument, "Every chunk of a PutChunks call starts with its header.");
            }

            Trailer = null;
            _chunkEnded = false;
            return requestStream.Current.Header;
        }

        /// <summary>Reads what is left of the current chunk up to its trailer, unstored (the node already held it).</summary>
        public async Task SkipRestOfChunkAsync(CancellationToken cancellationToken)
        {
            await foreach (var _ in DataAsync(cancellationToken))
            {
            }
        }

        public async Task DrainAsync(CancellationToken cancellationToken)
        {
            if (_ended)
            {
                return;
            }

            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(MaxDrainTime);
            long drained = 0;
            try
            {
                while (drained < MaxDrainBytes && await requestStream.MoveNext(limit.Token))
                {
                    drained += requestStream.Current.CalculateSize();
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
            {
                // Gave up draining: the refusal goes out anyway.
            }
        }

        public async IAsyncEnumerable<ReadOnlyMemory<byte>> DataAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            while (!_chunkEnded)
            {
                if (!await requestStream.MoveNext(cancellationToken))
                {
                    _ended = true;
                    if (trailerEndsChunk)
                    {
                        throw new ChunkStoreException(ChunkError.InvalidArgument, "Every chunk of a PutChunks call ends with its trailer.");
                    }

                    yield break;
                }

                var message = requestStream.Current;
                if (Trailer is not null)
                {
                    throw new ChunkStoreException(ChunkError.InvalidArgument, "Nothing may follow the trailer.");
                }

                switch (message.PayloadCase)
                {
                    case PutChunkRequest.PayloadOneofCase.Data:
                        yield return message.Data.Memory;
                        break;
                    case PutChunkRequest.PayloadOneofCase.Trailer:
                        var trailer = message.Trailer;
                        Trailer = new ChunkTrailerDigest(
                            trailer.Sha256.Length == 0 && trailer.HasXxhash3 ? null : ParseSha256(trailer.Sha256),
                            trailer.HasXxhash3 ? trailer.Xxhash3 : null);
                        _chunkEnded = trailerEndsChunk;
                        break;
                    default:
                        throw new ChunkStoreException(
                            ChunkError.InvalidArgument,
                            trailerEndsChunk ? "Every chunk of a PutChunks call ends with its trailer." : "Only data messages and one trailer may follow the chunk header.");
                }
            }
        }
    }
}
