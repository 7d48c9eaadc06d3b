using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;

namespace S3Storage.Gateway.S3.Signing;

/// <summary>
/// One of S3's additional checksums (<c>x-amz-checksum-*</c>), computed as the bytes pass.
/// Values are base64 of the big-endian digest; System.IO.Hashing's CRCs are asked for their
/// value as a number for that reason (their byte form is little-endian).
/// </summary>
public sealed class PayloadChecksum : IDisposable
{
    public static readonly IReadOnlyList<string> Algorithms = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

    private readonly NonCryptographicHashAlgorithm? _crc;
    private readonly IncrementalHash? _digest;

    private PayloadChecksum(string algorithm)
    {
        Algorithm = algorithm;
        switch (algorithm)
        {
            case "crc32": _crc = new Crc32(); break;
            case "crc32c": _crc = new Crc32(Crc32ParameterSet.Crc32C); break;
            case "crc64nvme": _crc = new Crc64(Crc64ParameterSet.Nvme); break;
            case "sha1": _digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA1); break;
            case "sha256": _digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256); break;
            default: throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not an S3 checksum algorithm.");
        }
    }

    /// <summary>Lower-case: crc32, crc32c, crc64nvme, sha1, sha256.</summary>
    public string Algorithm { get; }

    public string HeaderName => HeaderFor(Algorithm);

    public static string HeaderFor(string algorithm) => "x-amz-checksum-" + algorithm;

    /// <summary>The algorithm a header name (<c>x-amz-checksum-crc32</c>) names, or null.</summary>
    public static string? AlgorithmOf(string headerName) =>
        headerName.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase)
            ? Algorithms.FirstOrDefault(a => a.Equals(headerName["x-amz-checksum-".Length..], StringComparison.OrdinalIgnoreCase))
            : null;

    public static PayloadChecksum Create(string algorithm) => new(algorithm.ToLowerInvariant());

    public void Append(ReadOnlySpan<byte> data)
    {
        _crc?.Append(data);
        _digest?.AppendData(data);
    }

    /// <summary>Base64 of the big-endian value, as S3 writes it.</summary>
    public string Value()
    {
        if (_digest is not null)
        {
            return Convert.ToBase64String(_digest.GetCurrentHash());
        }

        Span<byte> bytes = stackalloc byte[8];
        switch (_crc)
        {
            case Crc32 crc32:
                BinaryPrimitives.WriteUInt32BigEndian(bytes, crc32.GetCurrentHashAsUInt32());
                return Convert.ToBase64String(bytes[..4]);
            case Crc64 crc64:
                BinaryPrimitives.WriteUInt64BigEndian(bytes, crc64.GetCurrentHashAsUInt64());
                return Convert.ToBase64String(bytes);
            default:
                throw new InvalidOperationException("No checksum state.");
        }
    }

    public void Dispose() => _digest?.Dispose();
}
