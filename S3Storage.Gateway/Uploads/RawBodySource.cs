using System.Buffers;
using System.IO.Pipelines;

namespace S3Storage.Gateway.Uploads;

/// <summary>A body that is the file and nothing else; its length is the body's Content-Length.</summary>
public sealed class RawBodySource : UploadSource
{
    private readonly PipeReader _reader;

    public RawBodySource(PipeReader reader, string filename, string contentType, long length, long maxFileSize)
    {
        if (length > maxFileSize)
        {
            throw TooLarge(length, maxFileSize);
        }

        ValidateFilename(filename, "Add ?filename=<name> to the URL of a raw upload.");

        _reader = reader;
        Filename = filename;
        ContentType = contentType;
        Length = length;
    }

    public override string Filename { get; }

    public override string ContentType { get; }

    public override long Length { get; }

    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        // Large reads cost far fewer calls than Kestrel's small segments: wait for the whole buffer.
        var result = await _reader.ReadAtLeastAsync(destination.Length, cancellationToken);
        var buffer = result.Buffer;
        var taken = (int)Math.Min(buffer.Length, destination.Length);
        if (taken < destination.Length && result.IsCompleted)
        {
            _reader.AdvanceTo(buffer.End);
            throw EndedEarly(taken);
        }

        buffer.Slice(0, taken).CopyTo(destination.Span);
        _reader.AdvanceTo(buffer.GetPosition(taken));
        return taken;
    }
}
