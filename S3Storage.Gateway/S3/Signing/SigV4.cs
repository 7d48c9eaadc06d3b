using System.Security.Cryptography;
using System.Text;

namespace S3Storage.Gateway.S3.Signing;

/// <summary>
/// The pieces of AWS Signature Version 4 as S3 uses them: URI encoding (once, never
/// normalized), the canonical query, the signing key and the HMACs of the streaming chain.
/// </summary>
public static class SigV4
{
    public const string Algorithm = "AWS4-HMAC-SHA256";
    public const string Service = "s3";
    public const string Terminator = "aws4_request";
    public const string UnsignedPayload = "UNSIGNED-PAYLOAD";
    public const string StreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    public const string StreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
    public const string StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

    /// <summary>Hex SHA-256 of nothing: the hash of every empty chunk.</summary>
    public const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// <summary>How far a request's time may be from ours (AWS and MinIO: 15 minutes).</summary>
    public static readonly TimeSpan AllowedSkew = TimeSpan.FromMinutes(15);

    /// <summary>AWS UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as %XX (upper-case), '/' kept unless <paramref name="encodeSlash"/>.</summary>
    public static void UriEncode(StringBuilder into, string text, bool encodeSlash)
    {
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.IsAscii && (char.IsAsciiLetterOrDigit((char)rune.Value) || rune.Value is '-' or '.' or '_' or '~' || rune.Value == '/' && !encodeSlash))
            {
                into.Append((char)rune.Value);
                continue;
            }

            var length = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < length; i++)
            {
                into.Append('%').Append(Convert.ToHexString(utf8.Slice(i, 1)));
            }
        }
    }

    public static string UriEncode(string text, bool encodeSlash)
    {
        var builder = new StringBuilder(text.Length + 16);
        UriEncode(builder, text, encodeSlash);
        return builder.ToString();
    }

    /// <summary>The canonical query: decoded pairs re-encoded, sorted by name then value (byte order), <c>X-Amz-Signature</c> left out.</summary>
    public static string CanonicalQuery(IReadOnlyList<KeyValuePair<string, string>> query)
    {
        var pairs = query
            .Where(p => !string.Equals(p.Key, "X-Amz-Signature", StringComparison.Ordinal))
            .Select(p => (Name: UriEncode(p.Key, encodeSlash: true), Value: UriEncode(p.Value, encodeSlash: true)))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal);
        return string.Join('&', pairs.Select(p => p.Name + "=" + p.Value));
    }

    /// <summary>Trimmed, inner runs of spaces collapsed to one (the canonical form of a header value).</summary>
    public static string CanonicalHeaderValue(string value)
    {
        var trimmed = value.AsSpan().Trim();
        var builder = new StringBuilder(trimmed.Length);
        var space = false;
        foreach (var c in trimmed)
        {
            if (c is ' ' or '\t')
            {
                space = true;
                continue;
            }

            if (space)
            {
                builder.Append(' ');
                space = false;
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    public static byte[] SigningKey(string secret, string date, string region)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(Service));
        return HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(Terminator));
    }

    public static string Sign(byte[] signingKey, string stringToSign) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(signingKey, Encoding.UTF8.GetBytes(stringToSign)));

    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Constant-time, so the time a comparison takes says nothing about the right signature.</summary>
    public static bool SignaturesMatch(string expected, string presented) =>
        presented.Length == expected.Length
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented.ToLowerInvariant()));

    /// <summary>The string to sign of one aws-chunked chunk.</summary>
    public static string ChunkStringToSign(SignedRequest request, string previousSignature, string chunkSha256Hex) =>
        $"AWS4-HMAC-SHA256-PAYLOAD\n{request.AmzDate}\n{request.Scope}\n{previousSignature}\n{EmptySha256}\n{chunkSha256Hex}";

    /// <summary>The string to sign of the trailing headers (<c>-TRAILER</c>, not <c>-PAYLOAD</c>).</summary>
    public static string TrailerStringToSign(SignedRequest request, string previousSignature, string trailerSha256Hex) =>
        $"AWS4-HMAC-SHA256-TRAILER\n{request.AmzDate}\n{request.Scope}\n{previousSignature}\n{trailerSha256Hex}";
}

/// <summary>
/// What a verified signature leaves for reading the body: the payload mode the client signed
/// (<c>x-amz-content-sha256</c>) and, for signed streaming, what each chunk's signature chains from.
/// </summary>
public sealed record SignedRequest(string AccessKeyId, string PayloadHash, string AmzDate, string Scope, string Signature, byte[] SigningKey, bool Presigned)
{
    public bool IsStreaming => PayloadHash.StartsWith("STREAMING-", StringComparison.Ordinal);

    public bool HasSignedChunks => PayloadHash is SigV4.StreamingSigned or SigV4.StreamingSignedTrailer;

    public bool HasTrailer => PayloadHash is SigV4.StreamingSignedTrailer or SigV4.StreamingUnsignedTrailer;

    /// <summary>Never the signing key.</summary>
    public override string ToString() => $"{AccessKeyId} {Scope} {PayloadHash}";
}
