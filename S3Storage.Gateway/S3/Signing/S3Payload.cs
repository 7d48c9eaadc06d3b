using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;

namespace S3Storage.Gateway.S3.Signing;

/// <summary>What a request body proved to be once read to its end.</summary>
public sealed record PayloadDigest(string Md5Hex, string? ChecksumAlgorithm, string? ChecksumValue);

/// <summary>
/// The body of an S3 request as the object's bytes: aws-chunked decoded on the fly, and every
/// integrity claim of the request checked as the bytes pass — the signed SHA-256, Content-MD5,
/// an <c>x-amz-checksum-*</c> header or trailer — with the MD5 S3's ETag is made of. Nothing
/// is verified before <see cref="FinishAsync"/>, so callers commit only after it returns.
/// </summary>
public sealed class S3Payload : IDisposable
{
    private readonly PipeReader _body;
    private readonly AwsChunkedReader? _chunked;
    private readonly IncrementalHash _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    private readonly IncrementalHash? _sha256;
    private readonly string? _expectedSha256;
    private readonly byte[]? _expectedMd5;
    private readonly PayloadChecksum? _checksum;
    private readonly string? _checksumHeaderValue;
    private long _read;

    private S3Payload(HttpRequest request, SignedRequest signed, long length)
    {
        _body = request.BodyReader;
        Length = length;
        if (signed.IsStreaming)
        {
            _chunked = new AwsChunkedReader(_body, signed);
        }
        else if (signed.PayloadHash != SigV4.UnsignedPayload)
        {
            _expectedSha256 = signed.PayloadHash;
            _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        }

        if (request.Headers["Content-MD5"].ToString() is { Length: > 0 } contentMd5)
        {
            var decoded = new byte[16];
            if (!Convert.TryFromBase64String(contentMd5, decoded, out var written) || written != 16)
            {
                throw S3Errors.InvalidDigest("The Content-MD5 you specified is not a base64 MD5.");
            }

            _expectedMd5 = decoded;
        }

        foreach (var algorithm in PayloadChecksum.Algorithms)
        {
            if (request.Headers[PayloadChecksum.HeaderFor(algorithm)].ToString() is { Length: > 0 } value)
            {
                _checksum = PayloadChecksum.Create(algorithm);
                _checksumHeaderValue = value;
                break;
            }
        }

        if (_checksum is null && signed.HasTrailer)
        {
            var trailer = request.Headers["x-amz-trailer"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var algorithm = trailer.Select(PayloadChecksum.AlgorithmOf).FirstOrDefault(a => a is not null);
            if (trailer.Length > 0 && algorithm is null)
            {
                throw S3Errors.InvalidRequest($"The trailer {trailer[0]} is not a checksum this store verifies (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1, -sha256).");
            }

            _checksum = algorithm is null ? null : PayloadChecksum.Create(algorithm);
        }
    }

    /// <summary>Bytes of the object (after aws-chunked decoding).</summary>
    public long Length { get; }

    /// <summary>
    /// The body of <paramref name="request"/>. Its decoded length must be declared
    /// (<c>Content-Length</c>, or <c>x-amz-decoded-content-length</c> for aws-chunked) so chunk
    /// boundaries are fixed before the first byte, and at most <paramref name="maxLength"/>.
    /// </summary>
    public static S3Payload Open(HttpRequest request, SignedRequest signed, long maxLength)
    {
        long length;
        if (signed.IsStreaming)
        {
            var declared = request.Headers["x-amz-decoded-content-length"].ToString();
            if (declared.Length == 0)
            {
                throw S3Errors.MissingContentLength("An aws-chunked body needs x-amz-decoded-content-length.");
            }

            if (!long.TryParse(declared, NumberStyles.None, CultureInfo.InvariantCulture, out length))
            {
                throw S3Errors.InvalidArgument($"x-amz-decoded-content-length '{declared}' is not a number of bytes.");
            }
        }
        else
        {
            length = request.ContentLength ?? throw S3Errors.MissingContentLength("You must provide the Content-Length HTTP header.");
        }

        if (length > maxLength)
        {
            throw S3Errors.EntityTooLarge($"Your proposed upload of {length} bytes exceeds the maximum allowed object size of {maxLength} bytes.");
        }

        return new S3Payload(request, signed, length);
    }

    /// <summary>Up to <paramref name="destination"/>.Length bytes of the object; 0 at its declared end.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var wanted = (int)Math.Min(destination.Length, Length - _read);
        if (wanted == 0)
        {
            return 0;
        }

        destination = destination[..wanted];
        int read;
        if (_chunked is not null)
        {
            read = await _chunked.ReadAsync(destination, cancellationToken);
        }
        else
        {
            var result = await _body.ReadAtLeastAsync(wanted, cancellationToken);
            var buffer = result.Buffer;
            read = (int)Math.Min(buffer.Length, wanted);
            buffer.Slice(0, read).CopyTo(destination.Span);
            _body.AdvanceTo(buffer.GetPosition(read));
        }

        if (read == 0)
        {
            throw S3Errors.IncompleteBody($"The request body ended after {_read} of its {Length} bytes.");
        }

        var data = destination.Span[..read];
        _md5.AppendData(data);
        _sha256?.AppendData(data);
        _checksum?.Append(data);
        _read += read;
        return read;
    }

    /// <summary>Reads what follows the last byte (the aws-chunked end and trailer) and checks every digest the request claimed.</summary>
    public async Task<PayloadDigest> FinishAsync(CancellationToken cancellationToken)
    {
        if (_read != Length)
        {
            throw new InvalidOperationException("The payload was not read to its end.");
        }

        if (_chunked is not null && await _chunked.ReadAsync(new byte[1], cancellationToken) != 0)
        {
            throw S3Errors.IncompleteBody($"The aws-chunked body carries more than its x-amz-decoded-content-length of {Length} bytes.");
        }

        if (_sha256 is not null && Convert.ToHexStringLower(_sha256.GetHashAndReset()) != _expectedSha256)
        {
            throw S3Errors.ContentSha256Mismatch("The provided 'x-amz-content-sha256' header does not match what was computed.");
        }

        var md5 = _md5.GetHashAndReset();
        if (_expectedMd5 is not null && !CryptographicOperations.FixedTimeEquals(md5, _expectedMd5))
        {
            throw S3Errors.BadDigest("The Content-MD5 you specified did not match what we received.");
        }

        string? checksumValue = null;
        if (_checksum is not null)
        {
            var claimed = _checksumHeaderValue;
            if (claimed is null && !(_chunked?.Trailers.TryGetValue(_checksum.HeaderName, out claimed) ?? false))
            {
                throw S3Errors.InvalidRequest($"The request announced the trailer {_checksum.HeaderName} but did not send it.");
            }

            checksumValue = _checksum.Value();
            if (claimed != checksumValue)
            {
                throw S3Errors.BadDigest($"The {_checksum.Algorithm.ToUpperInvariant()} you specified did not match the calculated checksum.");
            }
        }

        return new PayloadDigest(Convert.ToHexStringLower(md5), _checksum?.Algorithm, checksumValue);
    }

    /// <summary>The whole (small) body in memory: XML documents of at most <paramref name="maxLength"/> bytes.</summary>
    public static async Task<byte[]> ReadSmallAsync(HttpRequest request, SignedRequest signed, long maxLength, CancellationToken cancellationToken)
    {
        using var payload = Open(request, signed, maxLength);
        var bytes = new byte[payload.Length];
        var filled = 0;
        while (filled < bytes.Length)
        {
            filled += await payload.ReadAsync(bytes.AsMemory(filled), cancellationToken);
        }

        await payload.FinishAsync(cancellationToken);
        return bytes;
    }

    public void Dispose()
    {
        _md5.Dispose();
        _sha256?.Dispose();
        _checksum?.Dispose();
    }
}
