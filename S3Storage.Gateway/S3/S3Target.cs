using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http.Features;

namespace S3Storage.Gateway.S3;

/// <summary>
/// What an S3 request addresses, read from the raw request target: Kestrel's
/// <c>Request.Path</c> is decoded and dot-segment normalized, which would change keys such as
/// <c>a/../b</c> and <c>a%2Fb</c> and break the signature of the path as sent.
/// </summary>
public sealed class S3Target
{
    /// <summary>REST resources of the gateway: these names can never be buckets.</summary>
    public static readonly IReadOnlySet<string> ReservedNames = new HashSet<string>(StringComparer.Ordinal)
    {
        "files", "admin", "health", "alive", "openapi", "scalar", "metrics", "s3",
    };

    private S3Target(string path, List<KeyValuePair<string, string>> query, string? bucket, string? key)
    {
        Path = path;
        Query = query;
        Bucket = bucket;
        Key = key;
    }

    /// <summary>The decoded path as the client sent it (what the signature's canonical URI encodes).</summary>
    public string Path { get; }

    /// <summary>Decoded query parameters in the order sent.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Query { get; }

    public string? Bucket { get; }

    /// <summary>The object key; null for a bucket or the service itself.</summary>
    public string? Key { get; }

    public bool Has(string name) => Query.Any(p => p.Key == name);

    public string? Get(string name)
    {
        foreach (var pair in Query)
        {
            if (pair.Key == name)
            {
                return pair.Value;
            }
        }

        return null;
    }

    /// <summary>The resource for error documents: <c>/bucket/key</c>.</summary>
    public string Resource => Bucket is null ? "/" : Key is null ? "/" + Bucket : $"/{Bucket}/{Key}";

    /// <summary>Whether a request is for the S3 API: the root, a path whose first segment is not a reserved name, or a host under the base domain.</summary>
    public static bool IsS3Request(HttpContext context, string baseDomain)
    {
        if (HostBucket(context, baseDomain) is not null)
        {
            return true;
        }

        var path = context.Request.Path.Value ?? "/";
        var segment = path.AsSpan(1);
        var slash = segment.IndexOf('/');
        var first = slash < 0 ? segment : segment[..slash];
        return first.IsEmpty || !ReservedNames.Contains(first.ToString());
    }

    /// <summary>Parses the raw target; throws <see cref="S3Exception"/> for an undecodable one.</summary>
    public static S3Target Parse(HttpContext context, string baseDomain)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value + context.Request.QueryString.Value;
        if (raw.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || raw.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            // Absolute form (proxies): the path starts after the authority.
            var authorityEnd = raw.IndexOf('/', raw.IndexOf("//", StringComparison.Ordinal) + 2);
            raw = authorityEnd < 0 ? "/" : raw[authorityEnd..];
        }

        var question = raw.IndexOf('?');
        var rawPath = question < 0 ? raw : raw[..question];
        var rawQuery = question < 0 ? "" : raw[(question + 1)..];
        var path = Decode(rawPath, plusIsSpace: false) ?? throw S3Errors.InvalidUri("The request path is not valid percent-encoded UTF-8.");
        var query = new List<KeyValuePair<string, string>>();
        foreach (var part in rawQuery.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=');
            var name = Decode(equals < 0 ? part : part[..equals], plusIsSpace: true);
            var value = equals < 0 ? "" : Decode(part[(equals + 1)..], plusIsSpace: true);
            if (name is null || value is null)
            {
                throw S3Errors.InvalidUri("The query string is not valid percent-encoded UTF-8.");
            }

            query.Add(new(name, value));
        }

        if (path.Contains('\0') || query.Any(p => p.Key.Contains('\0') || p.Value.Contains('\0')))
        {
            throw S3Errors.InvalidArgument("Keys, prefixes and parameters cannot contain the NUL character.");
        }

        if (!path.StartsWith('/'))
        {
            throw S3Errors.InvalidUri("The request path must start with '/'.");
        }

        string? bucket;
        string? key;
        if (HostBucket(context, baseDomain) is { } hostBucket)
        {
            bucket = hostBucket;
            key = path.Length > 1 ? path[1..] : null;
        }
        else
        {
            var rest = path[1..];
            var slash = rest.IndexOf('/');
            bucket = slash < 0 ? rest : rest[..slash];
            key = slash < 0 || slash == rest.Length - 1 ? null : rest[(slash + 1)..];
            if (bucket.Length == 0)
            {
                bucket = null;
            }
        }

        return new S3Target(path, query, bucket, key);
    }

    private static string? HostBucket(HttpContext context, string baseDomain)
    {
        if (baseDomain.Length == 0)
        {
            return null;
        }

        var host = context.Request.Host.Value ?? "";
        var withoutPort = baseDomain.Contains(':') ? host : context.Request.Host.Host;
        return withoutPort.Length > baseDomain.Length + 1
            && withoutPort.EndsWith(baseDomain, StringComparison.OrdinalIgnoreCase)
            && withoutPort[^(baseDomain.Length + 1)] == '.'
                ? withoutPort[..^(baseDomain.Length + 1)]
                : null;
    }

    /// <summary>Percent-decodes to UTF-8 text; null when the bytes are not UTF-8 or an escape is malformed.</summary>
    private static string? Decode(string text, bool plusIsSpace)
    {
        if (text.IndexOfAny(['%', '+']) < 0)
        {
            return text;
        }

        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
        try
        {
            var length = 0;
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                if (c == '%')
                {
                    if (i + 2 >= text.Length || !Uri.IsHexDigit(text[i + 1]) || !Uri.IsHexDigit(text[i + 2]))
                    {
                        return null;
                    }

                    bytes[length++] = (byte)((Uri.FromHex(text[i + 1]) << 4) | Uri.FromHex(text[i + 2]));
                    i += 2;
                }
                else if (c == '+' && plusIsSpace)
                {
                    bytes[length++] = (byte)' ';
                }
                else
                {
                    length += Encoding.UTF8.GetBytes(text.AsSpan(i, char.IsHighSurrogate(c) && i + 1 < text.Length ? 2 : 1), bytes.AsSpan(length));
                    if (char.IsHighSurrogate(c))
                    {
                        i++;
                    }
                }
            }

            try
            {
                return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, length);
            }
            catch (DecoderFallbackException)
            {
                return null;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}
