namespace S3Storage.Contracts.Placement;

/// <summary>Bytes <c>[Offset, Offset + Length)</c> of a file, stored as chunk <see cref="Number"/>.</summary>
public readonly record struct ChunkRange(int Number, long Offset, long Length)
{
    public long End => Offset + Length;
}

/// <summary>How a file of <see cref="TotalSize"/> bytes is cut into its chunks.</summary>
public sealed record ChunkPlan(long TotalSize, long ChunkSize, IReadOnlyList<ChunkRange> Chunks)
{
    /// <summary>The chunk holding byte <paramref name="offset"/> of the file.</summary>
    public ChunkRange ChunkAt(long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(offset, TotalSize);
        var number = ChunkSize == 0 ? Chunks.Count - 1 : (int)Math.Min(offset / ChunkSize, Chunks.Count - 1);
        return Chunks[number];
    }
}

/// <summary>The requested file is larger than the store accepts.</summary>
public sealed class FileTooLargeException(long size, long maxFileSize)
    : Exception($"A file of {size} bytes is over the limit of {maxFileSize} bytes.")
{
    public long Size { get; } = size;

    public long MaxFileSize { get; } = maxFileSize;
}

/// <summary>
/// Cuts a file into exactly <see cref="ChunksPerFile"/> chunks. Every chunk but the last has
/// <c>ChunkSize</c> bytes; the last holds the rest.
/// </summary>
public static class ChunkPlanner
{
    /// <summary>A constant of the design, not a setting: every file has six chunks.</summary>
    public const int ChunksPerFile = 6;

    public const long DefaultMaxFileSize = 10L * 1024 * 1024 * 1024;

    public static ChunkPlan Plan(long totalSize, long maxFileSize = DefaultMaxFileSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(totalSize);
        if (totalSize > maxFileSize)
        {
            throw new FileTooLargeException(totalSize, maxFileSize);
        }

        var chunkSize = ChunkSizeFor(totalSize);
        var chunks = new ChunkRange[ChunksPerFile];
        for (var number = 0; number < ChunksPerFile; number++)
        {
            var offset = number * chunkSize;
            var end = number == ChunksPerFile - 1 ? totalSize : offset + chunkSize;
            chunks[number] = new ChunkRange(number, offset, end - offset);
        }

        return new ChunkPlan(totalSize, chunkSize, chunks);
    }

    /// <summary>
    /// DESIGN.md: <c>c = ceil(S / 6)</c>. For a few sizes under 26 bytes (7, 13, 19, 25, ...)
    /// ceil leaves the last chunks empty, which DESIGN.md allows only under 6 bytes; there
    /// <c>c = floor(S / 6)</c> and the last chunk takes the remainder. From 26 bytes up ceil
    /// always leaves the last chunk non-empty, so real files follow the ceil formula exactly.
    /// </summary>
    public static long ChunkSizeFor(long totalSize)
    {
        var ceiling = (totalSize + ChunksPerFile - 1) / ChunksPerFile;
        return (ChunksPerFile - 1) * ceiling < totalSize ? ceiling : totalSize / ChunksPerFile;
    }
}
