using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Downloads;
using S3Storage.Gateway.Files;
using S3Storage.Gateway.S3.Buckets;
using S3Storage.Gateway.S3.Signing;
using S3Storage.Gateway.Telemetry;
using S3Storage.Gateway.Uploads;
using static S3Storage.Gateway.S3.S3Xml;

namespace S3Storage.Gateway.S3.Objects;

/// <summary>PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject.</summary>
public static class ObjectOperations
{
    /// <summary>DeleteObjects takes at most this many keys, as S3 does.</summary>
    private const int MaxDeleteKeys = 1000;

    private const int CopyBufferSize = 256 * 1024;

    public static async Task PutObjectAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Write, s3.Aborted);
        RefuseConditionalWrite(s3.Request, allowIfNoneMatchStar: true);
        var mustNotExist = s3.Request.Headers.IfNoneMatch.ToString().Trim() == "*";
        var contentType = StoredHeaders.ContentType(s3.Request);
        var headers = StoredHeaders.FromRequest(s3.Request);
        using var payload = S3Payload.Open(s3.Request, s3.Signed, s3.Service<IOptions<StorageOptions>>().Value.MaxFileSize);
        var source = new PayloadUploadSource(payload, BlobNames.For(s3.Key), contentType);
        var blob = await s3.Service<FileUploader>().UploadAsync(source, Caller(s3), s3.Aborted);
        var digest = source.Digest!;
        try
        {
            await s3.Service<ObjectStore>().PutAsync(
                s3.Bucket,
                s3.Key,
                new ObjectVersion(Guid.CreateVersion7(), [blob.FileId], blob.Size, digest.Md5Hex, contentType, headers, DateTimeOffset.UtcNow),
                mustNotExist,
                s3.Aborted);
        }
        catch
        {
            // The blob never became the object: it goes now, not as an orphan later.
            await s3.Service<ObjectStore>().DeleteUnusedBlobsAsync([blob.FileId]);
            throw;
        }

        s3.Response.Headers.ETag = Quoted(digest.Md5Hex);
        if (digest.ChecksumAlgorithm is { } algorithm)
        {
            s3.Response.Headers[PayloadChecksum.HeaderFor(algorithm)] = digest.ChecksumValue;
        }
    }

    public static async Task GetObjectAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Read, s3.Aborted);
        var stored = await s3.Service<ObjectStore>().FindAsync(s3.Bucket, s3.Key, s3.Aborted) ?? throw S3Errors.NoSuchKey(s3.Key);
        var response = s3.Response;
        response.Headers.ETag = Quoted(stored.Etag);
        response.Headers.LastModified = HttpTime(stored.LastModified);
        response.Headers.AcceptRanges = "bytes";
        if (Preconditions.Evaluate(s3.Request, stored.Etag, stored.LastModified) is { } notModifiedOrFailed)
        {
            if (notModifiedOrFailed == StatusCodes.Status304NotModified)
            {
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            }

            throw S3Errors.PreconditionFailed("If-Match or If-Unmodified-Since");
        }

        var (start, length, partial) = SelectBytes(s3, stored);
        response.ContentType = HeaderValue(s3.Target.Get("response-content-type")) ?? stored.ContentType;
        StoredHeaders.Apply(response, ObjectStore.ReadHeaders(stored.Headers));
        ApplyOverrides(s3);
        if (stored.Etag.Contains('-', StringComparison.Ordinal))
        {
            // A multipart object, whatever its number of parts (one is allowed).
            response.Headers["x-amz-mp-parts-count"] = stored.Blobs.Count.ToString(CultureInfo.InvariantCulture);
        }

        response.ContentLength = length;
        if (partial)
        {
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = new ContentRangeHeaderValue(start, start + length - 1, stored.Size).ToString();
        }

        if (HttpMethods.IsHead(s3.Request.Method) || length == 0)
        {
            return;
        }

        var catalog = s3.Service<FileCatalog>();
        var chunks = stored.Blobs.SelectMany(b => catalog.ReadPlan(b.File!)).ToList();
        var readers = s3.Service<ReplicaReaderServices>();
        await using var content = new StoredFileStream(chunks, readers);
        using var _ = s3.Service<GatewayMetrics>().TrackDownload();
        await CopyRangeAsync(content, start, length, response, s3.Aborted);
    }

    public static async Task DeleteObjectAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Write, s3.Aborted);
        await s3.Service<ObjectStore>().DeleteAsync(s3.Bucket, s3.Key, s3.Aborted);
        s3.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    public static async Task DeleteObjectsAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Write, s3.Aborted);
        // SDKs send a CRC checksum here now, older ones Content-MD5: either is checked by the payload.
        var body = await S3Payload.ReadSmallAsync(s3.Request, s3.Signed, 2 * 1024 * 1024, s3.Aborted);
        var document = Parse(body);
        if (document.Name.LocalName != "Delete")
        {
            throw S3Errors.MalformedXml("The body must be a Delete document.");
        }

        var quiet = string.Equals(ChildValue(document, "Quiet"), "true", StringComparison.OrdinalIgnoreCase);
        var keys = Children(document, "Object").Select(o => ChildValue(o, "Key")).ToList();
        if (keys.Count is 0 or > MaxDeleteKeys || keys.Any(k => string.IsNullOrEmpty(k)))
        {
            throw S3Errors.MalformedXml($"A Delete document names 1 to {MaxDeleteKeys} objects, each with a Key.");
        }

        var store = s3.Service<ObjectStore>();
        var results = new List<System.Xml.Linq.XElement>();
        foreach (var key in keys)
        {
            try
            {
                ObjectStore.KeyBytesCheck(key!);
                await store.DeleteAsync(s3.Bucket, key!, s3.Aborted);
                if (!quiet)
                {
                    results.Add(Element("Deleted", Element("Key", key)));
                }
            }
            catch (S3Exception e)
            {
                results.Add(Element("Error", Element("Key", key), Element("Code", e.Code), Element("Message", e.Message)));
            }
        }

        await WriteAsync(s3.Response, Element("DeleteResult", results));
    }

    public static async Task CopyObjectAsync(S3Request s3)
    {
        var buckets = s3.Service<BucketStore>();
        await buckets.RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Write, s3.Aborted);
        var (sourceBucket, sourceKey) = CopySource(s3.Request.Headers["x-amz-copy-source"].ToString());
        await buckets.RequireAsync(sourceBucket, s3.Caller, BucketPermission.Read, s3.Aborted);
        var store = s3.Service<ObjectStore>();
        var source = await store.FindAsync(sourceBucket, sourceKey, s3.Aborted) ?? throw S3Errors.NoSuchKey(sourceKey);
        if (Preconditions.EvaluateCopySource(s3.Request, source.Etag, source.LastModified) is { } failed)
        {
            throw S3Errors.PreconditionFailed(failed);
        }

        var replace = string.Equals(s3.Request.Headers["x-amz-metadata-directive"].ToString(), "REPLACE", StringComparison.OrdinalIgnoreCase);
        if (!replace && sourceBucket == s3.Bucket && sourceKey == s3.Key)
        {
            throw S3Errors.InvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
        }

        var contentType = replace ? StoredHeaders.ContentType(s3.Request) : source.ContentType;
        var headers = replace ? StoredHeaders.FromRequest(s3.Request) : ObjectStore.ReadHeaders(source.Headers);
        var catalog = s3.Service<FileCatalog>();
        await using var content = new StoredFileStream(source.Blobs.SelectMany(b => catalog.ReadPlan(b.File!)).ToList(), s3.Service<ReplicaReaderServices>());
        using var copy = new CopyUploadSource(content, source.Size, BlobNames.For(s3.Key), contentType);
        var blob = await s3.Service<FileUploader>().UploadAsync(copy, Caller(s3), s3.Aborted);
        var lastModified = DateTimeOffset.UtcNow;
        try
        {
            await store.PutAsync(s3.Bucket, s3.Key, new ObjectVersion(Guid.CreateVersion7(), [blob.FileId], blob.Size, copy.Md5Hex!, contentType, headers, lastModified), false, s3.Aborted);
        }
        catch
        {
            await store.DeleteUnusedBlobsAsync([blob.FileId]);
            throw;
        }

        await WriteAsync(s3.Response, Element("CopyObjectResult", Element("LastModified", Time(lastModified)), Element("ETag", Quoted(copy.Md5Hex!))));
    }

    /// <summary>
    /// Conditional writes other than If-None-Match: * (create only) are not done here; a client
    /// relying on compare-and-swap must hear so rather than overwrite unchecked.
    /// </summary>
    public static void RefuseConditionalWrite(HttpRequest request, bool allowIfNoneMatchStar)
    {
        var ifNoneMatch = request.Headers.IfNoneMatch.ToString().Trim();
        if (request.Headers.IfMatch.Count > 0 || ifNoneMatch.Length > 0 && !(allowIfNoneMatchStar && ifNoneMatch == "*"))
        {
            throw S3Errors.NotImplemented("This conditional write (If-Match, or If-None-Match other than * on PutObject)");
        }
    }

    public static UploadCaller Caller(S3Request s3) => new(s3.Caller.AccessKeyId, s3.Context.Connection.RemoteIpAddress);

    /// <summary>Copies <paramref name="length"/> bytes from <paramref name="start"/>; the first read happens before any byte is sent, so a store that cannot serve fails as an S3 error.</summary>
    public static async Task CopyRangeAsync(Stream content, long start, long length, HttpResponse response, CancellationToken cancellationToken)
    {
        content.Seek(start, SeekOrigin.Begin);
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            var remaining = length;
            while (remaining > 0)
            {
                var read = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken);
                if (read == 0)
                {
                    throw new InvalidOperationException("The object ended before its recorded size.");
                }

                await response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static (long Start, long Length, bool Partial) SelectBytes(S3Request s3, StoredObject stored)
    {
        if (s3.Target.Get("partNumber") is { } partText)
        {
            if (s3.Request.Headers.Range.Count > 0)
            {
                throw S3Errors.InvalidRequest("Cannot specify both Range header and partNumber query parameter.");
            }

            if (!int.TryParse(partText, NumberStyles.None, CultureInfo.InvariantCulture, out var part) || part < 1 || part > 10000)
            {
                throw S3Errors.InvalidArgument("partNumber must be a whole number from 1 to 10000.");
            }

            if (part > stored.Blobs.Count)
            {
                throw S3Errors.InvalidPart($"The object has {stored.Blobs.Count} parts; there is no part {part}.");
            }

            var offset = stored.Blobs.Take(part - 1).Sum(b => b.File!.TotalSize);
            var blobSize = stored.Blobs[part - 1].File!.TotalSize;
            return (offset, blobSize, stored.Blobs.Count > 1);
        }

        var range = s3.Request.Headers.Range.ToString();
        if (range.Length == 0 || ByteRange.Parse(range) is not { } requested)
        {
            return (0, stored.Size, false);
        }

        return requested.Resolve(stored.Size) is { } resolved
            ? (resolved.Start, resolved.Length, true)
            : throw S3Errors.InvalidRange(stored.Size);
    }

    private static void ApplyOverrides(S3Request s3)
    {
        foreach (var (parameter, header) in new[]
        {
            ("response-content-language", "Content-Language"),
            ("response-expires", "Expires"),
            ("response-cache-control", "Cache-Control"),
            ("response-content-disposition", "Content-Disposition"),
            ("response-content-encoding", "Content-Encoding"),
        })
        {
            if (HeaderValue(s3.Target.Get(parameter)) is { } value)
            {
                s3.Response.Headers[header] = value;
            }
        }
    }

    /// <summary>A response-* override as a header value: printable ASCII only (Kestrel refuses anything else in a response header).</summary>
    private static string? HeaderValue(string? value) =>
        value is null || value.All(c => c is >= ' ' and <= '~')
            ? value
            : throw S3Errors.InvalidArgument("response-* overrides must be printable ASCII.");

    private static (string Bucket, string Key) CopySource(string header)
    {
        var question = header.IndexOf('?');
        if (question >= 0)
        {
            var query = header[(question + 1)..];
            if (query.Length > 0 && query != "versionId=null")
            {
                throw S3Errors.NotImplemented("Copying a version of an object");
            }

            header = header[..question];
        }

        var path = Uri.UnescapeDataString(header).TrimStart('/');
        var slash = path.IndexOf('/');
        if (slash <= 0 || slash == path.Length - 1)
        {
            throw S3Errors.InvalidArgument("x-amz-copy-source must be <bucket>/<key>, URL-encoded.");
        }

        return (path[..slash], ObjectStore.KeyBytesCheck(path[(slash + 1)..]));
    }
}
