namespace S3Storage.Gateway.Downloads;

/// <summary>
/// A stored file as a read-only, seekable stream over its chunks' copies, so ASP.NET Core's
/// stream result can answer Range and every conditional header itself. Nothing is asked of a
/// node before the first read, and the first read returns only once a copy answered: a file
/// that cannot be read fails before a byte of the response is sent. Every chunk that starts
/// within <see cref="PrefetchDistance"/> of the position is read ahead, so switching chunks
/// costs no round trip, and a small file's chunks are all asked for at once.
/// </summary>
public sealed class StoredFileStream : Stream
{
    /// <summary>How far ahead of the position a chunk's read is started.</summary>
    private const long PrefetchDistance = 8 * 1024 * 1024;

    private readonly IReadOnlyList<ChunkCopies> _chunks;
    private readonly long[] _chunkStarts;
    private readonly ReplicaReaderServices _services;
    private long _position;
    private ReplicaReader? _reader;
    private int _readerIndex;
    private readonly Queue<ReplicaReader> _ahead = new();
    private int _aheadEnd;
    private ReadOnlyMemory<byte> _pending;

    public StoredFileStream(IReadOnlyList<ChunkCopies> chunks, ReplicaReaderServices services)
    {
        _chunks = chunks;
        _services = services;
        _chunkStarts = new long[chunks.Count + 1];
        for (var i = 0; i < chunks.Count; i++)
        {
            _chunkStarts[i + 1] = _chunkStarts[i] + chunks[i].ChunkSize;
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => _chunkStarts[^1];

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        ArgumentOutOfRangeException.ThrowIfNegative(target, nameof(offset));
        if (target != _position)
        {
            DropReaders();
            _position = target;
        }

        return _position;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_pending.IsEmpty)
        {
            if (_position >= Length || buffer.IsEmpty)
            {
                return 0;
            }

            _pending = await ReaderAt(_position, cancellationToken).ReadAsync(cancellationToken);
            if (_pending.IsEmpty)
            {
                // Only a reader at its chunk's end returns nothing, and the position is never
                // left there: a defensive step on to the next chunk, keeping its prefetch.
                _reader?.Dispose();
                _reader = null;
            }
        }

        var count = Math.Min(buffer.Length, _pending.Length);
        _pending[..count].CopyTo(buffer);
        _pending = _pending[count..];
        _position += count;
        _services.Metrics.BytesDownloaded(count);
        PrefetchNext(cancellationToken);
        if (_pending.IsEmpty && _reader is not null && _position == _chunkStarts[_readerIndex + 1])
        {
            await _reader.CompleteAsync();
            _reader.Dispose();
            _reader = null;
        }

        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("A stored file is read asynchronously: its bytes come from the storage nodes.");

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            DropReaders();
        }

        base.Dispose(disposing);
    }

    /// <summary>The reader for the chunk holding <paramref name="position"/>, reading from exactly there.</summary>
    private ReplicaReader ReaderAt(long position, CancellationToken cancellationToken)
    {
        var index = ChunkIndexOf(position);
        var offset = position - _chunkStarts[index];
        if (_reader is not null && _reader.Chunk == _chunks[index])
        {
            return _reader;
        }

        _reader?.Dispose();
        _reader = null;
        while (_ahead.TryDequeue(out var ahead))
        {
            if (ahead.Chunk == _chunks[index] && ahead.Offset == offset)
            {
                _reader = ahead;
                break;
            }

            ahead.Dispose();
        }

        if (_reader is null)
        {
            DropAhead();
            _aheadEnd = index + 1;
            _reader = new ReplicaReader(_chunks[index], offset, _services);
        }

        _readerIndex = index;
        _reader.Start(cancellationToken);
        PrefetchNext(cancellationToken);
        return _reader;
    }

    private void PrefetchNext(CancellationToken cancellationToken)
    {
        if (_reader is null)
        {
            return;
        }

        // Counted by chunk index, not from the position: at a chunk's last byte the position is
        // already the next chunk's first.
        while (_aheadEnd < _chunks.Count && _chunkStarts[_aheadEnd] - _position <= PrefetchDistance)
        {
            if (_chunks[_aheadEnd].ChunkSize > 0)
            {
                var ahead = new ReplicaReader(_chunks[_aheadEnd], 0, _services);
                ahead.Start(cancellationToken);
                _ahead.Enqueue(ahead);
            }

            _aheadEnd++;
        }
    }

    private int ChunkIndexOf(long position)
    {
        // Six chunks: a linear search is as fast as any.
        for (var i = 0; i < _chunks.Count; i++)
        {
            if (position < _chunkStarts[i + 1])
            {
                return i;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(position), position, "The position is past the end of the file.");
    }

    private void DropReaders()
    {
        _reader?.Dispose();
        _reader = null;
        DropAhead();
        _pending = ReadOnlyMemory<byte>.Empty;
    }

    private void DropAhead()
    {
        while (_ahead.TryDequeue(out var ahead))
        {
            ahead.Dispose();
        }
    }
}
