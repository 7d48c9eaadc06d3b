using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using S3Storage.StorageNode.Telemetry;

namespace S3Storage.StorageNode.Chunks;

/// <summary>What the writer of a chunk promises about it; <see cref="Sha256"/> is null when a trailer brings it after the data.</summary>
public sealed record ChunkDescriptor(ChunkId Id, long Size, byte[]? Sha256, Guid FileId, int ChunkNumber);

/// <summary>What a trailer says of the bytes sent: their SHA-256, their XxHash3, or both.</summary>
public sealed record ChunkTrailerDigest(byte[]? Sha256, ulong? XxHash3);

/// <summary>A put's outcome: whether bytes were written (false: the node already held the chunk) and the chunk's SHA-256.</summary>
public sealed record ChunkPutResult(bool Written, byte[] Sha256);

/// <summary>A chunk on disk, as listed.</summary>
public sealed record StoredChunkEntry(ChunkId Id, ChunkFileHeader Header);

/// <summary>
/// Chunks on local disk, one file each under <c>chunks/ab/cd/&lt;chunk_id&gt;</c>
/// (<c>ab</c>, <c>cd</c>: the id's first four hex digits). Writes go to <c>tmp/</c> on the same
/// volume and are renamed into place only once complete, verified and fsynced, so a chunk
/// file that exists is always whole.
/// </summary>
public sealed class ChunkStore : IDisposable
{
    /// <summary>Bytes covered by one CRC-32 in the trailer: a read verifies (and may read ahead) at most this much before sending.</summary>
    public const int ChecksumBlockSize = 1024 * 1024;

    private readonly NodeMetrics _metrics;
    private readonly ConcurrentDictionary<string, byte> _knownCorrupt = new(StringComparer.Ordinal);
    private long _chunkCount;
    private long _usedBytes;
    private long _bytesWritten;
    private long _bytesRead;
    private long _ioErrors;

    private readonly ILogger<ChunkStore> _logger;
    private readonly DiskSync _sync;
    private readonly bool _directIoWanted;

    public ChunkStore(IOptions<NodeOptions> options, NodeMetrics metrics, ILogger<ChunkStore> logger)
    {
        _metrics = metrics;
        _logger = logger;
        _sync = new DiskSync(options.Value.SyncThreads);
        _directIoWanted = options.Value.DirectIo;
        Root = Path.GetFullPath(options.Value.DataDir);
        ChunksDirectory = Path.Combine(Root, "chunks");
        TempDirectory = Path.Combine(Root, "tmp");
        metrics.Meter.CreateObservableGauge("s3storage.node.chunks", () => Interlocked.Read(ref _chunkCount), "{chunk}", "Chunks stored on this node.");
        metrics.Meter.CreateObservableGauge("s3storage.node.space.used", () => Interlocked.Read(ref _usedBytes), "By", "Bytes of chunk files on this node.");
        metrics.Meter.CreateObservableGauge("s3storage.node.space.free", () => FreeSpace(), "By", "Free bytes on the node's data volume.");
    }

    public string Root { get; }

    public string ChunksDirectory { get; }

    public string TempDirectory { get; }

    public long ChunkCount => Interlocked.Read(ref _chunkCount);

    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    public long CorruptCount => _knownCorrupt.Count;

    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public long IoErrors => Interlocked.Read(ref _ioErrors);

    /// <summary>Set when the node shuts down or drains: new chunks are refused, reads go on.</summary>
    public bool Draining { get; set; }

    /// <summary>Set once <see cref="Initialize"/> has made the layout and counted the chunks.</summary>
    public bool Initialized { get; private set; }

    public long FreeSpace() => new DriveInfo(Root).AvailableFreeSpace;

    /// <summary>Ends the sync threads (the container disposes the store after the last request).</summary>
    public void Dispose() => _sync.Dispose();

    public long TotalSpace() => new DriveInfo(Root).TotalSize;

    /// <summary>Creates the layout, removes temporary files left by a crash, and counts what is stored.</summary>
    public void Initialize(TimeSpan tempFileMaxAge, ILogger logger)
    {
        Directory.CreateDirectory(ChunksDirectory);
        Directory.CreateDirectory(TempDirectory);

        var removed = 0;
        foreach (var temp in new DirectoryInfo(TempDirectory).EnumerateFiles())
        {
            if (DateTime.UtcNow - temp.LastWriteTimeUtc >= tempFileMaxAge)
            {
                temp.Delete();
                removed++;
            }
        }

        long count = 0, bytes = 0;
        foreach (var file in new DirectoryInfo(ChunksDirectory).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            count++;
            bytes += file.Length;
        }

        Interlocked.Exchange(ref _chunkCount, count);
        Interlocked.Exchange(ref _usedBytes, bytes);
        ChunkStoreLog.Initialized(logger, Root, count, bytes, removed);
        if (_directIoWanted)
        {
            var refused = DirectIo.Probe(TempDirectory);
            UsesDirectIo = refused is null;
            if (refused is null)
            {
                ChunkStoreLog.DirectIo(logger, DirectIo.Threshold);
            }
            else
            {
                ChunkStoreLog.DirectIoRefused(logger, refused);
            }
        }

        Initialized = true;
    }

    /// <summary>Whether chunk files of <see cref="DirectIo.Threshold"/> bytes and more bypass the page cache: wanted (Node:DirectIo) and accepted by the volume at start.</summary>
    public bool UsesDirectIo { get; private set; }

    public string PathOf(ChunkId id) => Path.Combine(ChunksDirectory, id.Value[..2], id.Value[2..4], id.Value);

    /// <summary>The stored chunk's header, or null when the node does not hold it.</summary>
    public async Task<ChunkFileHeader?> TryReadHeaderAsync(ChunkId id, CancellationToken cancellationToken)
    {
        var path = PathOf(id);
        try
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            return await ReadHeaderAsync(file, id, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    public bool IsKnownCorrupt(ChunkId id) => _knownCorrupt.ContainsKey(id.Value);

    /// <summary>
    /// Stores a chunk from <paramref name="data"/>. Returns false when the node already holds
    /// the same chunk with the same hash (without reading the data when the hash came first).
    /// <paramref name="trailer"/> gives what was sent after the data, if anything.
    /// </summary>
    public async Task<ChunkPutResult> WriteAsync(ChunkDescriptor chunk, IAsyncEnumerable<ReadOnlyMemory<byte>> data, Func<ChunkTrailerDigest?> trailer, CancellationToken cancellationToken)
    {
        await using var prepared = await PrepareAsync(chunk, data, trailer, cancellationToken);
        return (await CommitAsync([prepared], cancellationToken))[0];
    }

    /// <summary>
    /// First half of a put: checks what the node holds and writes the chunk to a temporary
    /// file, verified but neither fsynced nor visible. <see cref="CommitAsync"/> makes a set of
    /// prepared chunks durable together, so a batch of small chunks shares its flushes;
    /// disposing a prepared chunk that was not committed removes its temporary file.
    /// </summary>
    public async Task<PreparedChunk> PrepareAsync(ChunkDescriptor chunk, IAsyncEnumerable<ReadOnlyMemory<byte>> data, Func<ChunkTrailerDigest?> trailer, CancellationToken cancellationToken)
    {
        if (Draining)
        {
            throw new ChunkStoreException(ChunkError.Draining, "The node is shutting down and accepts no new chunks.");
        }

        var existing = await TryReadHeaderOrCorruptAsync(chunk.Id, cancellationToken);
        // A chunk known to be corrupt is replaced by the next put: that is how repair heals it.
        var replacingCorrupt = IsKnownCorrupt(chunk.Id);
        if (existing is not null && !replacingCorrupt && chunk.Sha256 is not null)
        {
            if (!SameChunk(existing, chunk.Size, chunk.Sha256))
            {
                throw Conflict(chunk.Id, chunk.Size, chunk.Sha256, existing);
            }

            // A repeated put is how repair heals a copy: answer "already present" only for
            // bytes that still pass their checksums, otherwise replace them.
            if (await VerifyExistingAsync(chunk.Id, cancellationToken))
            {
                return PreparedChunk.AlreadyStored(chunk, new ChunkPutResult(false, chunk.Sha256));
            }

            replacingCorrupt = true;
        }

        var tempPath = Path.Combine(TempDirectory, $"{chunk.Id.Value}.{Guid.NewGuid():N}.tmp");
        var header = new ChunkFileHeader(chunk.Size, chunk.Sha256 ?? new byte[32], chunk.FileId, chunk.ChunkNumber, DateTimeOffset.UtcNow, ChecksumBlockSize);
        FileStream? file = null;
        try
        {
            file = OpenTempFile(tempPath, header);
            header = await WriteTempFileAsync(file, header, chunk.Sha256, data, trailer, cancellationToken);
            return new PreparedChunk(chunk, tempPath, file, header, replacingCorrupt);
        }
        catch (Exception e)
        {
            if (file is not null)
            {
                await file.DisposeAsync();
            }

            TryDelete(tempPath);
            if (e is IOException io)
            {
                throw WriteFailed(chunk.Id, header.FileLength, io);
            }

            throw;
        }
    }

    /// <summary>
    /// Second half of a put: fsyncs the prepared chunks (concurrently, so the file system
    /// commits them together), renames each into place and fsyncs the directories they are in.
    /// A chunk is acknowledged only once all of this is done. A failure part-way leaves the
    /// chunks renamed before it whole and counted, but unacknowledged: a retry finds them
    /// already stored, and otherwise repair collects them as orphans.
    /// </summary>
    public async Task<IReadOnlyList<ChunkPutResult>> CommitAsync(IReadOnlyList<PreparedChunk> chunks, CancellationToken cancellationToken)
    {
        var toStore = chunks.Where(c => c.Result is null).ToList();
        try
        {
            // fsync before rename: once a chunk has its name, its bytes are on disk.
            await Task.WhenAll(toStore.Select(c => _sync.RunAsync(() => c.File!.Flush(flushToDisk: true))));
            foreach (var chunk in toStore)
            {
                await chunk.File!.DisposeAsync();
            }

            var directories = new HashSet<string>(StringComparer.Ordinal);
            foreach (var chunk in toStore)
            {
                chunk.Result = await RenameIntoPlaceAsync(chunk, cancellationToken);
                // Also when the name was already taken by the same chunk: it is acknowledged
                // now, and a put that failed before its directory fsync may have left it.
                directories.Add(Path.GetDirectoryName(PathOf(chunk.Descriptor.Id))!);
                if (chunk.Result.Written)
                {
                    RecordStored(chunk);
                }
            }

            // fsync the directories: the renames themselves must survive a power cut.
            await Task.WhenAll(directories.Select(d => _sync.RunAsync(() => DirectorySync.Flush(d))));
        }
        catch (IOException e)
        {
            var failed = toStore.FirstOrDefault(c => c.Result is null) ?? toStore[^1];
            throw WriteFailed(failed.Descriptor.Id, failed.Header.FileLength, e);
        }

        return chunks.Select(c => c.Result!).ToList();
    }

    private void RecordStored(PreparedChunk chunk)
    {
        _knownCorrupt.TryRemove(chunk.Descriptor.Id.Value, out _);
        if (chunk.ReplacedLength == 0)
        {
            Interlocked.Increment(ref _chunkCount);
        }

        Interlocked.Add(ref _usedBytes, chunk.Header.FileLength - chunk.ReplacedLength);
        Interlocked.Add(ref _bytesWritten, chunk.Header.DataLength);
        _metrics.ChunkWritten(chunk.Header.DataLength);
    }

    private ChunkStoreException WriteFailed(ChunkId id, long fileLength, IOException e)
    {
        // .NET reports a failed preallocation as a plain IOException, without the errno.
        if (DiskErrors.IsDiskFull(e) || SafeFreeSpace() is >= 0 and var free && free < fileLength)
        {
            RecordIoError("disk_full");
            return new ChunkStoreException(ChunkError.DiskFull, $"The node's disk is full: chunk {id} needs {fileLength} bytes, {SafeFreeSpace()} are free.", e);
        }

        RecordIoError("write");
        return new ChunkStoreException(ChunkError.IoError, $"Writing chunk {id} failed: {e.Message}", e);
    }

    private static FileStream OpenTempFile(string tempPath, ChunkFileHeader header) =>
        new(tempPath, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            // Our writes are already large; a second buffer would only copy.
            BufferSize = 0,
            // Reserving the whole file first finds a full disk before any byte is written,
            // and keeps the file contiguous.
            PreallocationSize = header.FileLength,
        });

    private async Task<ChunkFileHeader> WriteTempFileAsync(
        FileStream file,
        ChunkFileHeader header,
        byte[]? headerSha256,
        IAsyncEnumerable<ReadOnlyMemory<byte>> data,
        Func<ChunkTrailerDigest?> trailer,
        CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkFileHeader.Length);
        await using var writer = ChunkFileWriter.Create(file, header.FileLength, UsesDirectIo);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // A writer that sends no SHA-256 first may prove the bytes with an XxHash3 after them.
        var xxHash3 = headerSha256 is null ? new XxHash3() : null;
        var blockChecksums = new BlockChecksums(header.DataLength, header.BlockSize);
        try
        {
            header.Write(buffer);
            await writer.WriteAsync(buffer.AsMemory(0, ChunkFileHeader.Length), cancellationToken);

            long received = 0;
            await foreach (var segment in data.WithCancellation(cancellationToken))
            {
                received += segment.Length;
                if (received > header.DataLength)
                {
                    throw new ChunkStoreException(ChunkError.InvalidArgument, $"The header announced {header.DataLength} bytes, but more arrived.");
                }

                sha256.AppendData(segment.Span);
                xxHash3?.Append(segment.Span);
                blockChecksums.Append(segment.Span);
                await writer.WriteAsync(segment, cancellationToken);
            }

            if (received != header.DataLength)
            {
                throw new ChunkStoreException(ChunkError.InvalidArgument, $"The header announced {header.DataLength} bytes, but {received} arrived.");
            }

            var actual = sha256.GetHashAndReset();
            var digest = trailer();
            if (headerSha256 is not null && digest?.Sha256 is { } trailerSha256 && !trailerSha256.AsSpan().SequenceEqual(headerSha256))
            {
                throw new ChunkStoreException(ChunkError.InvalidArgument, "The trailer's SHA-256 differs from the header's.");
            }

            var expected = headerSha256 ?? digest?.Sha256;
            if (expected is null && digest?.XxHash3 is null)
            {
                throw new ChunkStoreException(ChunkError.InvalidArgument, "Neither a SHA-256 nor an XxHash3 was sent: give the SHA-256 in the header, or either in a trailer after the data.");
            }

            if (expected is not null && !actual.AsSpan().SequenceEqual(expected))
            {
                throw new ChunkStoreException(
                    ChunkError.DataLoss,
                    $"The data's SHA-256 is {Convert.ToHexStringLower(actual)}, not the {Convert.ToHexStringLower(expected)} announced; the chunk was not stored.");
            }

            if (digest?.XxHash3 is { } announced && xxHash3?.GetCurrentHashAsUInt64() is { } computed && computed != announced)
            {
                throw new ChunkStoreException(
                    ChunkError.DataLoss,
                    $"The data's XxHash3 is {computed:x16}, not the {announced:x16} announced; the chunk was not stored.");
            }

            await writer.WriteAsync(blockChecksums.ToBytes(), cancellationToken);
            if (headerSha256 is null)
            {
                // The hash is known only now: rewrite the header in place.
                header = header with { Sha256 = actual };
                header.Write(buffer);
                await writer.RewriteHeaderAsync(buffer.AsMemory(0, ChunkFileHeader.Length), cancellationToken);
            }

            await writer.CompleteAsync(cancellationToken);
            return header;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<ChunkPutResult> RenameIntoPlaceAsync(PreparedChunk chunk, CancellationToken cancellationToken)
    {
        var id = chunk.Descriptor.Id;
        var header = chunk.Header;
        var finalPath = PathOf(id);
        await EnsureDirectoryAsync(Path.GetDirectoryName(finalPath)!);
        chunk.ReplacedLength = chunk.ReplacingCorrupt && File.Exists(finalPath) ? new FileInfo(finalPath).Length : 0;
        try
        {
            File.Move(chunk.TempPath, finalPath, overwrite: chunk.ReplacingCorrupt);
        }
        catch (IOException) when (!chunk.ReplacingCorrupt && File.Exists(finalPath))
        {
            // The chunk was already there (its hash came only in the trailer), or another put
            // of the same id finished first.
            var existing = await TryReadHeaderAsync(id, cancellationToken);
            return existing is not null && SameChunk(existing, header.DataLength, header.Sha256)
                ? new ChunkPutResult(false, header.Sha256)
                : throw Conflict(id, header.DataLength, header.Sha256, existing);
        }

        chunk.Renamed = true;
        return new ChunkPutResult(true, header.Sha256);
    }

    private async Task<bool> VerifyExistingAsync(ChunkId id, CancellationToken cancellationToken)
    {
        try
        {
            await using var reader = await OpenReadAsync(id, cancellationToken);
            return await reader.VerifyAsync((_, _) => ValueTask.CompletedTask, _logger, cancellationToken, foundBy: "put");
        }
        catch (ChunkStoreException e) when (e.Error is ChunkError.DataLoss or ChunkError.NotFound)
        {
            _knownCorrupt.TryAdd(id.Value, 0);
            return false;
        }
    }

    /// <summary>Opens a chunk for reading; NotFound when absent, DataLoss when its file is damaged.</summary>
    public async Task<ChunkReader> OpenReadAsync(ChunkId id, CancellationToken cancellationToken)
    {
        if (IsKnownCorrupt(id))
        {
            throw new ChunkStoreException(ChunkError.DataLoss, $"Chunk {id} is corrupt on this node; read another replica.");
        }

        FileStream file;
        try
        {
            file = new FileStream(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ChunkStoreException(ChunkError.NotFound, $"This node holds no chunk {id}.");
        }

        try
        {
            var header = await ReadHeaderAsync(file, id, cancellationToken);
            // The header was read through the page cache; the blocks of a large chunk are not.
            // Direct reads are sized for the block size every chunk is written with.
            var direct = UsesDirectIo && header.FileLength >= DirectIo.Threshold && header.BlockSize == ChecksumBlockSize && DirectIo.TrySet(file.SafeFileHandle);
            return new ChunkReader(id, file, header, this, direct);
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    /// <summary>Removes a chunk; false when it was not there (deleting is idempotent).</summary>
    public async Task<(bool Existed, long BytesFreed)> DeleteAsync(ChunkId id)
    {
        var path = PathOf(id);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            return (false, 0L);
        }

        var length = info.Length;
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return (false, 0L);
        }

        await _sync.RunAsync(() => DirectorySync.Flush(Path.GetDirectoryName(path)!));
        _knownCorrupt.TryRemove(id.Value, out _);
        Interlocked.Decrement(ref _chunkCount);
        Interlocked.Add(ref _usedBytes, -length);
        return (true, length);
    }

    /// <summary>Every chunk, in id order, after <paramref name="startAfter"/> when given. Streams: memory does not grow with the chunk count.</summary>
    public async IAsyncEnumerable<StoredChunkEntry> ListAsync(string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        startAfter ??= "";
        foreach (var first in SortedSubdirectories(ChunksDirectory))
        {
            // The directories are the id's leading hex digits, so whole directories before
            // startAfter are skipped without being read.
            var firstName = Path.GetFileName(first);
            if (string.CompareOrdinal(firstName, startAfter[..Math.Min(2, startAfter.Length)]) < 0)
            {
                continue;
            }

            foreach (var second in SortedSubdirectories(first))
            {
                var prefix = firstName + Path.GetFileName(second);
                if (string.CompareOrdinal(prefix, startAfter[..Math.Min(4, startAfter.Length)]) < 0)
                {
                    continue;
                }

                var names = Directory.EnumerateFiles(second).Select(Path.GetFileName).Order(StringComparer.Ordinal);
                foreach (var name in names)
                {
                    if (string.CompareOrdinal(name, startAfter) <= 0 || !ChunkId.TryParse(name, out var id))
                    {
                        continue;
                    }

                    var header = await TryReadHeaderOrCorruptAsync(id.Value, cancellationToken);
                    if (header is not null)
                    {
                        yield return new StoredChunkEntry(id.Value, header);
                    }
                }
            }
        }
    }

    /// <summary>Records a chunk whose bytes fail their checksums: reads refuse it and a put may replace it.</summary>
    public void MarkCorrupt(ChunkId id, string foundBy, ILogger logger, string reason)
    {
        if (_knownCorrupt.TryAdd(id.Value, 0))
        {
            _metrics.CorruptChunk(foundBy);
            ChunkStoreLog.Corrupt(logger, id.Value, foundBy, reason);
        }
    }

    /// <summary>Counts chunk bytes sent to a caller (not the scrub's reads).</summary>
    public void RecordRead(long bytes)
    {
        Interlocked.Add(ref _bytesRead, bytes);
        _metrics.BytesRead(bytes);
    }

    internal void RecordIoError(string kind)
    {
        Interlocked.Increment(ref _ioErrors);
        _metrics.IoError(kind);
    }

    private async Task<ChunkFileHeader?> TryReadHeaderOrCorruptAsync(ChunkId id, CancellationToken cancellationToken)
    {
        try
        {
            return await TryReadHeaderAsync(id, cancellationToken);
        }
        catch (ChunkStoreException e) when (e.Error == ChunkError.DataLoss)
        {
            _knownCorrupt.TryAdd(id.Value, 0);
            return null;
        }
    }

    private static async Task<ChunkFileHeader> ReadHeaderAsync(FileStream file, ChunkId id, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkFileHeader.Length);
        try
        {
            var read = await file.ReadAtLeastAsync(buffer.AsMemory(0, ChunkFileHeader.Length), ChunkFileHeader.Length, throwOnEndOfStream: false, cancellationToken);
            var header = read == ChunkFileHeader.Length ? ChunkFileHeader.TryRead(buffer) : null;
            if (header is null)
            {
                throw new ChunkStoreException(ChunkError.DataLoss, $"Chunk {id} has a damaged header.");
            }

            if (file.Length != header.FileLength)
            {
                throw new ChunkStoreException(ChunkError.DataLoss, $"Chunk {id} is {file.Length} bytes on disk; a complete chunk of {header.DataLength} bytes is {header.FileLength}.");
            }

            return header;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool SameChunk(ChunkFileHeader existing, long size, byte[] sha256) =>
        existing.DataLength == size && existing.Sha256.AsSpan().SequenceEqual(sha256);

    private static ChunkStoreException Conflict(ChunkId id, long size, byte[] sha256, ChunkFileHeader? existing) =>
        new(ChunkError.Conflict,
            $"Chunk {id} is already stored with SHA-256 {existing?.Sha256Hex ?? "(unreadable)"} and {existing?.DataLength} bytes; refusing different content ({Convert.ToHexStringLower(sha256)}, {size} bytes).");

    private static IEnumerable<string> SortedSubdirectories(string directory) =>
        Directory.Exists(directory)
            ? Directory.EnumerateDirectories(directory).Order(StringComparer.Ordinal)
            : [];

    private async Task EnsureDirectoryAsync(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        var parent = Path.GetDirectoryName(directory)!;
        await EnsureDirectoryAsync(parent);
        Directory.CreateDirectory(directory);
        // A new directory entry is durable only once its parent is fsynced.
        await _sync.RunAsync(() => DirectorySync.Flush(parent));
    }

    private long SafeFreeSpace()
    {
        try
        {
            return FreeSpace();
        }
        catch (IOException)
        {
            return -1;
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Running CRC-32s over fixed blocks of the data, written as the chunk file's trailer.</summary>
    private sealed class BlockChecksums(long dataLength, int blockSize)
    {
        private readonly uint[] _checksums = new uint[dataLength == 0 ? 0 : ((dataLength - 1) / blockSize) + 1];
        private readonly Crc32 _current = new();
        private int _filled;
        private int _next;

        public void Append(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                var take = Math.Min(data.Length, blockSize - _filled);
                _current.Append(data[..take]);
                _filled += take;
                data = data[take..];
                if (_filled == blockSize)
                {
                    Complete();
                }
            }
        }

        public byte[] ToBytes()
        {
            if (_filled > 0)
            {
                Complete();
            }

            var bytes = new byte[_checksums.Length * sizeof(uint)];
            for (var i = 0; i < _checksums.Length; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * sizeof(uint)), _checksums[i]);
            }

            return bytes;
        }

        private void Complete()
        {
            _checksums[_next++] = _current.GetCurrentHashAsUInt32();
            _current.Reset();
            _filled = 0;
        }
    }
}
