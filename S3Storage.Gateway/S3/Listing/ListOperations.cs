using System.Globalization;
using System.Text;
using System.Xml.Linq;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.S3.Buckets;
using S3Storage.Gateway.S3.Signing;
using static S3Storage.Gateway.S3.S3Xml;

namespace S3Storage.Gateway.S3.Listing;

/// <summary>ListObjectsV2, ListObjects (V1, still used by rclone and s3cmd) and ListObjectVersions of unversioned buckets.</summary>
public static class ListOperations
{
    private const int MaxKeys = 1000;

    public static async Task ListV2Async(S3Request s3)
    {
        var (bucket, query) = await BeginAsync(s3);
        var token = s3.Target.Get("continuation-token");
        var startAfter = s3.Target.Get("start-after");
        var start = token is { Length: > 0 } ? DecodeToken(token) : startAfter is { Length: > 0 } ? ListStart.AfterKey(startAfter) : ListStart.Beginning;
        var page = await s3.Service<ObjectListing>().ListAsync(s3.Bucket, query.Prefix, query.Delimiter, start, query.MaxKeys, s3.Aborted);
        var fetchOwner = s3.Target.Get("fetch-owner") == "true";
        await WriteAsync(s3.Response, Element(
            "ListBucketResult",
            Element("Name", s3.Bucket),
            Element("Prefix", query.Encode(query.Prefix)),
            query.Delimiter.Length > 0 ? Element("Delimiter", query.Encode(query.Delimiter)) : null,
            Element("MaxKeys", query.MaxKeys),
            query.Url ? Element("EncodingType", "url") : null,
            Element("KeyCount", page.Entries.Count),
            Element("IsTruncated", page.Truncated ? "true" : "false"),
            token is not null ? Element("ContinuationToken", token) : null,
            page.Truncated ? Element("NextContinuationToken", EncodeToken(page.Entries[^1])) : null,
            startAfter is not null ? Element("StartAfter", query.Encode(startAfter)) : null,
            page.Entries.Where(e => e.Object is not null).Select(e => Contents(e.Object!, query, fetchOwner ? bucket.OwnerAccessKeyId : null)),
            CommonPrefixes(page, query)));
    }

    public static async Task ListV1Async(S3Request s3)
    {
        var (bucket, query) = await BeginAsync(s3);
        var marker = s3.Target.Get("marker") ?? "";
        var start = MarkerStart(marker, query);
        var page = await s3.Service<ObjectListing>().ListAsync(s3.Bucket, query.Prefix, query.Delimiter, start, query.MaxKeys, s3.Aborted);
        await WriteAsync(s3.Response, Element(
            "ListBucketResult",
            Element("Name", s3.Bucket),
            // V1 returns its Prefix as sent, encoded or not (botocore decodes only Delimiter, Marker and NextMarker there).
            Element("Prefix", query.Prefix),
            Element("Marker", query.Encode(marker)),
            // Always given when truncated: rclone stops on a truncated page without one.
            page.Truncated ? Element("NextMarker", query.Encode(page.Entries[^1].Name)) : null,
            query.Delimiter.Length > 0 ? Element("Delimiter", query.Encode(query.Delimiter)) : null,
            Element("MaxKeys", query.MaxKeys),
            query.Url ? Element("EncodingType", "url") : null,
            Element("IsTruncated", page.Truncated ? "true" : "false"),
            page.Entries.Where(e => e.Object is not null).Select(e => Contents(e.Object!, query, bucket.OwnerAccessKeyId)),
            CommonPrefixes(page, query)));
    }

    /// <summary>Buckets here are never versioned: every object is its one version, <c>null</c>.</summary>
    public static async Task ListVersionsAsync(S3Request s3)
    {
        var (bucket, query) = await BeginAsync(s3);
        var keyMarker = s3.Target.Get("key-marker") ?? "";
        var start = MarkerStart(keyMarker, query);
        var page = await s3.Service<ObjectListing>().ListAsync(s3.Bucket, query.Prefix, query.Delimiter, start, query.MaxKeys, s3.Aborted);
        await WriteAsync(s3.Response, Element(
            "ListVersionsResult",
            Element("Name", s3.Bucket),
            Element("Prefix", query.Encode(query.Prefix)),
            Element("KeyMarker", query.Encode(keyMarker)),
            Element("VersionIdMarker", s3.Target.Get("version-id-marker") ?? ""),
            page.Truncated ? Element("NextKeyMarker", query.Encode(page.Entries[^1].Name)) : null,
            page.Truncated ? Element("NextVersionIdMarker", "null") : null,
            query.Delimiter.Length > 0 ? Element("Delimiter", query.Encode(query.Delimiter)) : null,
            Element("MaxKeys", query.MaxKeys),
            query.Url ? Element("EncodingType", "url") : null,
            Element("IsTruncated", page.Truncated ? "true" : "false"),
            page.Entries.Where(e => e.Object is not null).Select(e => Element(
                "Version",
                Element("Key", query.Encode(e.Object!.Key)),
                Element("VersionId", "null"),
                Element("IsLatest", "true"),
                Element("LastModified", Time(e.Object.LastModified)),
                Element("ETag", Quoted(e.Object.ETag)),
                Element("Size", e.Object.Size),
                Element("StorageClass", "STANDARD"),
                BucketOperations.Owner(bucket.OwnerAccessKeyId))),
            CommonPrefixes(page, query)));
    }

    /// <summary>Where a V1 or versions page starts: after the marker key, or past every key of the common prefix the marker names (the NextMarker of a page that ended on one).</summary>
    private static ListStart MarkerStart(string marker, ListQuery query) =>
        marker.Length == 0 ? ListStart.Beginning
        : ObjectListing.CommonPrefix(marker, query.Prefix, query.Delimiter) == marker ? ListStart.AfterPrefix(marker)
        : ListStart.AfterKey(marker);

    private sealed record ListQuery(string Prefix, string Delimiter, int MaxKeys, bool Url)
    {
        /// <summary>encoding-type=url: as AWS encodes (space as %20, '+' as %2B), '/' kept.</summary>
        public string Encode(string value) => Url ? SigV4.UriEncode(value, encodeSlash: false) : value;
    }

    private static async Task<(Bucket Bucket, ListQuery Query)> BeginAsync(S3Request s3)
    {
        var bucket = await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Read, s3.Aborted);
        var maxKeysText = s3.Target.Get("max-keys");
        var maxKeys = MaxKeys;
        if (maxKeysText is not null && (!int.TryParse(maxKeysText, NumberStyles.None, CultureInfo.InvariantCulture, out maxKeys)))
        {
            throw S3Errors.InvalidArgument("max-keys must be a whole number from 0.");
        }

        var encoding = s3.Target.Get("encoding-type");
        if (encoding is not (null or "url"))
        {
            throw S3Errors.InvalidArgument("encoding-type may only be url.");
        }

        return (bucket, new ListQuery(s3.Target.Get("prefix") ?? "", s3.Target.Get("delimiter") ?? "", Math.Min(maxKeys, MaxKeys), encoding == "url"));
    }

    private static XElement Contents(ListedObject listed, ListQuery query, string? owner) => Element(
        "Contents",
        Element("Key", query.Encode(listed.Key)),
        Element("LastModified", Time(listed.LastModified)),
        Element("ETag", Quoted(listed.ETag)),
        Element("Size", listed.Size),
        Element("StorageClass", "STANDARD"),
        owner is null ? null : BucketOperations.Owner(owner));

    private static IEnumerable<XElement> CommonPrefixes(ListPage page, ListQuery query) =>
        page.Entries.Where(e => e.CommonPrefix is not null).Select(e => Element("CommonPrefixes", Element("Prefix", query.Encode(e.CommonPrefix!))));

    /// <summary>Opaque to clients: where the next page starts, and whether that is past a key or past a whole common prefix.</summary>
    private static string EncodeToken(ListEntry last) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes((last.CommonPrefix is null ? "k:" : "p:") + last.Name)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static ListStart DecodeToken(string token)
    {
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            base64 = base64.PadRight(base64.Length + (4 - base64.Length % 4) % 4, '=');
            var text = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(base64));
            return text.Length > 2 && text[1] == ':' && text[0] is 'k' or 'p'
                ? text[0] == 'k' ? ListStart.AfterKey(text[2..]) : ListStart.AfterPrefix(text[2..])
                : throw S3Errors.InvalidArgument("The continuation token provided is incorrect.");
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            throw S3Errors.InvalidArgument("The continuation token provided is incorrect.");
        }
    }
}
