namespace S3Storage.Gateway.Downloads;

/// <summary>
/// A stored file as a read-only, seekable stream over its chunks' copies, so ASP.NET Core's
/// stream result can answer Range and every conditional header itself. Nothing is asked of a
/// node before the first read, and the first read returns only once a copy answered: a file
/// that cannot be read fails before a byte of the response is sent. Near the end of a chunk
/// the next chunk's read is started, so the switch costs no round trip.
/// </summary>
public sealed class StoredFileStream : Stream
{
    /// <summary>Bytes left in a chunk when the next chunk's read is started.</summary>
    private const long PrefetchDistance = 8 * 1024 * 1024;

    private readonly IReadOnlyList<ChunkCopies> _chunks;
    private readonly long[] _chunkStarts;
    private readonly ReplicaReaderServices _services;
    private long _position;
    private ReplicaReader? _reader;
    private int _readerIndex;
    private ReplicaReader? _next;
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
        if (_next is not null && _next.Chunk == _chunks[index] && _next.Offset == offset)
        {
            (_reader, _next) = (_next, null);
        }
        else
        {
            _next?.Dispose();
            _next = null;
            _reader = new ReplicaReader(_chunks[index], offset, _services);
        }

        _readerIndex = index;
        _reader.Start(cancellationToken);
        return _reader;
    }

    private void PrefetchNext(CancellationToken cancellationToken)
    {
        // The chunk after the one being read, not after the position: at a chunk's last byte the
        // position is already the next chunk's first.
        if (_next is not null || _reader is null || _chunkStarts[_readerIndex + 1] - _position > PrefetchDistance)
        {
            return;
        }

        var next = _readerIndex + 1;
        while (next < _chunks.Count && _chunks[next].ChunkSize == 0)
        {
            next++;
        }

        if (next < _chunks.Count)
        {
            _next = new ReplicaReader(_chunks[next], 0, _services);
            _next.Start(cancellationToken);
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
        _next?.Dispose();
        _reader = null;
        _next = null;
        _pending = ReadOnlyMemory<byte>.Empty;
    }
}
