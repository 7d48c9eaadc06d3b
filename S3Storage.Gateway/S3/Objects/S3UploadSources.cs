using System.Security.Cryptography;
using S3Storage.Gateway.S3.Signing;
using S3Storage.Gateway.Uploads;

namespace S3Storage.Gateway.S3.Objects;

/// <summary>
/// The body of a PutObject or UploadPart as the bytes of one blob. <see cref="ReadEndAsync"/>
/// runs before the upload core commits, so a wrong checksum or signature fails the upload
/// and nothing half-written becomes visible.
/// </summary>
public sealed class PayloadUploadSource(S3Payload payload, string filename, string contentType) : UploadSource
{
    public override string Filename { get; } = filename;

    public override string ContentType { get; } = contentType;

    public override long Length => payload.Length;

    /// <summary>What the body proved to be; set once <see cref="ReadEndAsync"/> returned.</summary>
    public PayloadDigest? Digest { get; private set; }

    public override async Task ReadEndAsync(CancellationToken cancellationToken) => Digest = await payload.FinishAsync(cancellationToken);

    protected override ValueTask<int> ReadCoreAsync(Memory<byte> destination, CancellationToken cancellationToken) => payload.ReadAsync(destination, cancellationToken);
}

/// <summary>An object's bytes read back from the store as the source of a new blob (CopyObject), with the MD5 of the copy's ETag.</summary>
public sealed class CopyUploadSource(Stream content, long length, string filename, string contentType) : UploadSource, IDisposable
{
    private readonly IncrementalHash _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);

    public override string Filename { get; } = filename;

    public override string ContentType { get; } = contentType;

    public override long Length { get; } = length;

    public string? Md5Hex { get; private set; }

    public override Task ReadEndAsync(CancellationToken cancellationToken)
    {
        Md5Hex = Convert.ToHexStringLower(_md5.GetHashAndReset());
        return Task.CompletedTask;
    }

    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var read = await content.ReadAsync(destination, cancellationToken);
        if (read == 0)
        {
            throw S3Errors.InternalError("The source object ended before its recorded size.");
        }

        _md5.AppendData(destination.Span[..read]);
        return read;
    }

    public void Dispose() => _md5.Dispose();
}

/// <summary>What a blob of an S3 object is called in <c>/files</c>: the key's last segment, printable.</summary>
public static class BlobNames
{
    public static string For(string key)
    {
        var slash = key.TrimEnd('/').LastIndexOf('/');
        var name = new string(key[(slash + 1)..].Select(c => char.IsControl(c) ? '_' : c).ToArray()).Trim();
        return name.Length == 0 ? "object" : name;
    }
}
