using System.Text;

namespace S3Storage.Gateway.S3.Objects;

/// <summary>The headers S3 stores with an object and returns on GET and HEAD.</summary>
public static class StoredHeaders
{
    public const string DefaultContentType = "binary/octet-stream";

    private const string MetaPrefix = "x-amz-meta-";

    /// <summary>S3's limit on user metadata (names and values, UTF-8).</summary>
    private const int MaxUserMetadataBytes = 2048;

    private static readonly string[] Stored = ["Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"];

    /// <summary>The Content-Type to store, checked.</summary>
    public static string ContentType(HttpRequest request)
    {
        var contentType = request.ContentType is { Length: > 0 } given ? given : DefaultContentType;
        return contentType.Length <= 255 && !contentType.Any(char.IsControl)
            ? contentType
            : throw S3Errors.InvalidArgument("Content-Type must be at most 255 printable characters.");
    }

    public static Dictionary<string, string> FromRequest(HttpRequest request)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in Stored)
        {
            var value = request.Headers[name].ToString();
            if (name == "Content-Encoding")
            {
                // aws-chunked describes this request's framing, not the object.
                value = string.Join(',', value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Where(v => !v.Equals("aws-chunked", StringComparison.OrdinalIgnoreCase)));
            }

            if (value.Length > 0)
            {
                headers[name] = value;
            }
        }

        var metadataBytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            if (name.StartsWith(MetaPrefix, StringComparison.OrdinalIgnoreCase))
            {
                var key = name.ToLowerInvariant();
                var value = values.ToString();
                metadataBytes += Encoding.UTF8.GetByteCount(key[MetaPrefix.Length..]) + Encoding.UTF8.GetByteCount(value);
                headers[key] = value;
            }
        }

        return metadataBytes <= MaxUserMetadataBytes
            ? headers
            : throw new S3Exception("MetadataTooLarge", 400, $"Your metadata headers are {metadataBytes} bytes; the limit is {MaxUserMetadataBytes}.");
    }

    public static void Apply(HttpResponse response, IReadOnlyDictionary<string, string> headers)
    {
        foreach (var (name, value) in headers)
        {
            response.Headers[name] = value;
        }
    }
}
