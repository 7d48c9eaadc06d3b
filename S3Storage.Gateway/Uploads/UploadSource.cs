using S3Storage.Gateway.Errors;

namespace S3Storage.Gateway.Uploads;

/// <summary>
/// The bytes of one file to store, whatever carries them (a raw request body, a form's file
/// part, and next an S3 PutObject or UploadPart): its name, type and exact length are known
/// before its first byte is read, so chunk boundaries can be fixed up front.
/// </summary>
public abstract class UploadSource
{
    private long _received;

    public abstract string Filename { get; }

    public abstract string ContentType { get; }

    /// <summary>Bytes of the file itself.</summary>
    public abstract long Length { get; }

    /// <summary>Bytes read so far; safe to read from another thread (the session keeper does).</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>
    /// Reads up to <paramref name="destination"/>.Length bytes of the file; 0 only at its end.
    /// Throws <see cref="StoreException"/> when what the client sent is not the file it announced.
    /// </summary>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var wanted = (int)Math.Min(destination.Length, Length - Received);
        if (wanted == 0)
        {
            return 0;
        }

        var read = await ReadCoreAsync(destination[..wanted], cancellationToken);
        Interlocked.Add(ref _received, read);
        return read;
    }

    /// <summary>Checks what follows the file's last byte (for a form, exactly its closing boundary).</summary>
    public virtual Task ReadEndAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Reads 1 to <paramref name="destination"/>.Length bytes, never past the file's end.</summary>
    protected abstract ValueTask<int> ReadCoreAsync(Memory<byte> destination, CancellationToken cancellationToken);

    public static void ValidateFilename(string? filename, string whenMissing)
    {
        if (string.IsNullOrWhiteSpace(filename))
        {
            throw new StoreException(StoreFailure.InvalidRequest, "A filename is required", whenMissing);
        }

        if (filename.Length > 1024 || filename.Any(char.IsControl))
        {
            throw new StoreException(StoreFailure.InvalidRequest, "The filename is not acceptable", "A filename has 1 to 1024 characters and no control characters.");
        }
    }

    public static StoreException TooLarge(long size, long maxFileSize) =>
        new(StoreFailure.TooLarge, "The file is too large", $"The upload is {size} bytes; the largest file this store accepts is {maxFileSize} bytes.");

    protected StoreException EndedEarly(long taken) =>
        new(StoreFailure.InvalidRequest, "The body ended early", $"The body ended after {Received + taken} of the file's {Length} bytes.");
}
