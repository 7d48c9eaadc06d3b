using System.Globalization;

namespace S3Storage.Gateway.S3.Objects;

/// <summary>
/// Conditional requests in RFC 7232's order, as S3 applies them: If-Match (412), else
/// If-Unmodified-Since (412); If-None-Match (304 on GET and HEAD), else If-Modified-Since (304).
/// Times compare at whole seconds, the precision of the HTTP date.
/// </summary>
public static class Preconditions
{
    /// <summary>304, 412, or null to go on.</summary>
    public static int? Evaluate(HttpRequest request, string etag, DateTimeOffset lastModified)
    {
        var modified = Seconds(lastModified);
        var ifMatch = request.Headers.IfMatch.ToString();
        if (ifMatch.Length > 0)
        {
            if (!Matches(ifMatch, etag))
            {
                return StatusCodes.Status412PreconditionFailed;
            }
        }
        else if (Date(request.Headers.IfUnmodifiedSince.ToString()) is { } unmodifiedSince && modified > unmodifiedSince)
        {
            return StatusCodes.Status412PreconditionFailed;
        }

        var ifNoneMatch = request.Headers.IfNoneMatch.ToString();
        if (ifNoneMatch.Length > 0)
        {
            if (Matches(ifNoneMatch, etag))
            {
                return StatusCodes.Status304NotModified;
            }
        }
        else if (Date(request.Headers.IfModifiedSince.ToString()) is { } modifiedSince && modified <= modifiedSince)
        {
            return StatusCodes.Status304NotModified;
        }

        return null;
    }

    /// <summary>CopyObject's x-amz-copy-source-if-* headers: the condition that failed, or null.</summary>
    public static string? EvaluateCopySource(HttpRequest request, string etag, DateTimeOffset lastModified)
    {
        var modified = Seconds(lastModified);
        var ifMatch = request.Headers["x-amz-copy-source-if-match"].ToString();
        if (ifMatch.Length > 0 && !Matches(ifMatch, etag))
        {
            return "x-amz-copy-source-if-match";
        }

        if (ifMatch.Length == 0 && Date(request.Headers["x-amz-copy-source-if-unmodified-since"].ToString()) is { } unmodifiedSince && modified > unmodifiedSince)
        {
            return "x-amz-copy-source-if-unmodified-since";
        }

        var ifNoneMatch = request.Headers["x-amz-copy-source-if-none-match"].ToString();
        if (ifNoneMatch.Length > 0 && Matches(ifNoneMatch, etag))
        {
            return "x-amz-copy-source-if-none-match";
        }

        if (ifNoneMatch.Length == 0 && Date(request.Headers["x-amz-copy-source-if-modified-since"].ToString()) is { } modifiedSince && modified <= modifiedSince)
        {
            return "x-amz-copy-source-if-modified-since";
        }

        return null;
    }

    private static bool Matches(string header, string etag) =>
        header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Any(candidate => candidate == "*" || S3Xml.Unquoted(candidate.StartsWith("W/", StringComparison.Ordinal) ? candidate[2..] : candidate) == etag);

    private static DateTimeOffset Seconds(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

    private static DateTimeOffset? Date(string text) =>
        text.Length > 0 && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var date) ? date : null;
}

/// <summary>A single HTTP byte range (<c>bytes=a-b</c>, <c>a-</c>, <c>-n</c>); several ranges or a malformed one are ignored (the whole object), as S3 does.</summary>
public sealed record ByteRange(long? First, long? Last)
{
    public static ByteRange? Parse(string header)
    {
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var spec = header[6..].Trim();
        var dash = spec.IndexOf('-');
        if (spec.Contains(',') || dash < 0)
        {
            return null;
        }

        long? Number(string text) => long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        var firstText = spec[..dash];
        var lastText = spec[(dash + 1)..];
        var first = firstText.Length == 0 ? null : Number(firstText);
        var last = lastText.Length == 0 ? null : Number(lastText);
        if (firstText.Length > 0 && first is null || lastText.Length > 0 && last is null || first is null && last is null || first > last)
        {
            return null;
        }

        return new ByteRange(first, last);
    }

    /// <summary>Start and length within an object of <paramref name="size"/> bytes; null when unsatisfiable (416).</summary>
    public (long Start, long Length)? Resolve(long size)
    {
        if (First is null)
        {
            // A suffix: the last n bytes, the whole object when n exceeds it.
            var suffix = Math.Min(Last!.Value, size);
            return suffix == 0 ? null : (size - suffix, suffix);
        }

        if (First >= size)
        {
            return null;
        }

        var end = Math.Min(Last ?? size - 1, size - 1);
        return (First.Value, end - First.Value + 1);
    }
}
