using System.Globalization;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.S3.Buckets;
using S3Storage.Gateway.S3.Objects;
using S3Storage.Gateway.S3.Signing;
using S3Storage.Gateway.Uploads;
using static S3Storage.Gateway.S3.S3Xml;

namespace S3Storage.Gateway.S3.Multipart;

/// <summary>CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.</summary>
public static class MultipartOperations
{
    private const int MaxListed = 1000;

    public static async Task CreateAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Write, s3.Aborted);
        var uploadId = await s3.Service<MultipartUploads>().CreateAsync(
            s3.Bucket, s3.Key, s3.Caller.AccessKeyId, StoredHeaders.ContentType(s3.Request), StoredHeaders.FromRequest(s3.Request), s3.Aborted);
        await WriteAsync(s3.Response, Element("InitiateMultipartUploadResult", Element("Bucket", s3.Bucket), Element("Key", s3.Key), Element("UploadId", uploadId)));
    }

    public static async Task UploadPartAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Write, s3.Aborted);
        var partNumber = PartNumber(s3);
        var uploadId = s3.Target.Get("uploadId")!;
        var uploads = s3.Service<MultipartUploads>();
        var upload = await uploads.RequireActiveAsync(s3.Bucket, s3.Key, uploadId, s3.Aborted);
        using var payload = S3Payload.Open(s3.Request, s3.Signed, s3.Service<IOptions<StorageOptions>>().Value.MaxFileSize);
        var source = new PayloadUploadSource(payload, $"{BlobNames.For(s3.Key)}.part{partNumber}", upload.ContentType);
        var blob = await s3.Service<FileUploader>().UploadAsync(source, ObjectOperations.Caller(s3), s3.Aborted);
        var digest = source.Digest!;
        await uploads.SavePartAsync(s3.Bucket, s3.Key, uploadId, partNumber, blob.FileId, blob.Size, digest.Md5Hex, s3.Aborted);
        s3.Response.Headers.ETag = Quoted(digest.Md5Hex);
        if (digest.ChecksumAlgorithm is { } algorithm)
        {
            s3.Response.Headers[PayloadChecksum.HeaderFor(algorithm)] = digest.ChecksumValue;
        }
    }

    public static async Task CompleteAsync(S3Request s3)
    {
        ObjectOperations.RefuseConditionalWrite(s3.Request, allowIfNoneMatchStar: false);
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Write, s3.Aborted);
        var body = await S3Payload.ReadSmallAsync(s3.Request, s3.Signed, 4 * 1024 * 1024, s3.Aborted);
        var document = Parse(body);
        if (document.Name.LocalName != "CompleteMultipartUpload")
        {
            throw S3Errors.MalformedXml("The body must be a CompleteMultipartUpload document.");
        }

        var parts = new List<CompletedPart>();
        foreach (var part in Children(document, "Part"))
        {
            if (!int.TryParse(ChildValue(part, "PartNumber"), NumberStyles.None, CultureInfo.InvariantCulture, out var number) || ChildValue(part, "ETag") is not { } etag)
            {
                throw S3Errors.MalformedXml("Each Part needs a PartNumber and an ETag.");
            }

            parts.Add(new CompletedPart(number, etag));
        }

        if (parts.Count == 0)
        {
            throw S3Errors.MalformedXml("You must specify at least one part.");
        }

        var completed = await s3.Service<MultipartUploads>().CompleteAsync(s3.Bucket, s3.Key, s3.Target.Get("uploadId")!, parts, s3.Aborted);
        await WriteAsync(s3.Response, Element(
            "CompleteMultipartUploadResult",
            Element("Location", $"{s3.Request.Scheme}://{s3.Request.Host}/{s3.Bucket}/{SigV4.UriEncode(s3.Key, encodeSlash: false)}"),
            Element("Bucket", completed.Bucket),
            Element("Key", completed.Key),
            Element("ETag", Quoted(completed.ETag))));
    }

    public static async Task AbortAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Write, s3.Aborted);
        await s3.Service<MultipartUploads>().AbortAsync(s3.Bucket, s3.Key, s3.Target.Get("uploadId")!, s3.Aborted);
        s3.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    public static async Task ListPartsAsync(S3Request s3)
    {
        var bucket = await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Read, s3.Aborted);
        var uploadId = s3.Target.Get("uploadId")!;
        var uploads = s3.Service<MultipartUploads>();
        var upload = await uploads.RequireActiveAsync(s3.Bucket, s3.Key, uploadId, s3.Aborted);
        var marker = Number(s3, "part-number-marker", 0);
        var max = Math.Min(Number(s3, "max-parts", MaxListed), MaxListed);
        var parts = await uploads.ListPartsAsync(uploadId, marker, max, s3.Aborted);
        var truncated = max > 0 && parts.Count > max;
        var shown = parts.Take(max).ToList();
        await WriteAsync(s3.Response, Element(
            "ListPartsResult",
            Element("Bucket", s3.Bucket),
            Element("Key", s3.Key),
            Element("UploadId", uploadId),
            Element("Initiator", Element("ID", upload.InitiatorAccessKeyId), Element("DisplayName", upload.InitiatorAccessKeyId)),
            BucketOperations.Owner(bucket.OwnerAccessKeyId),
            Element("StorageClass", "STANDARD"),
            Element("PartNumberMarker", marker),
            Element("NextPartNumberMarker", shown.Count > 0 ? shown[^1].PartNumber : marker),
            Element("MaxParts", max),
            Element("IsTruncated", truncated ? "true" : "false"),
            shown.Select(p => Element("Part", Element("PartNumber", p.PartNumber), Element("LastModified", Time(p.UploadedAt)), Element("ETag", Quoted(p.Etag)), Element("Size", p.Size)))));
    }

    public static async Task ListUploadsAsync(S3Request s3)
    {
        var bucket = await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Read, s3.Aborted);
        var prefix = s3.Target.Get("prefix") ?? "";
        var keyMarker = s3.Target.Get("key-marker") ?? "";
        var uploadIdMarker = s3.Target.Get("upload-id-marker") ?? "";
        var max = Math.Min(Number(s3, "max-uploads", MaxListed), MaxListed);
        var uploads = await s3.Service<MultipartUploads>().ListUploadsAsync(s3.Bucket, prefix, keyMarker, uploadIdMarker, max, s3.Aborted);
        var truncated = max > 0 && uploads.Count > max;
        var shown = uploads.Take(max).ToList();
        await WriteAsync(s3.Response, Element(
            "ListMultipartUploadsResult",
            Element("Bucket", s3.Bucket),
            Element("KeyMarker", keyMarker),
            Element("UploadIdMarker", uploadIdMarker),
            truncated ? Element("NextKeyMarker", shown[^1].Key) : null,
            truncated ? Element("NextUploadIdMarker", shown[^1].UploadId) : null,
            Element("Prefix", prefix),
            Element("MaxUploads", max),
            Element("IsTruncated", truncated ? "true" : "false"),
            shown.Select(u => Element(
                "Upload",
                Element("Key", u.Key),
                Element("UploadId", u.UploadId),
                Element("Initiator", Element("ID", u.InitiatorAccessKeyId), Element("DisplayName", u.InitiatorAccessKeyId)),
                BucketOperations.Owner(bucket.OwnerAccessKeyId),
                Element("StorageClass", "STANDARD"),
                Element("Initiated", Time(u.CreatedAt))))));
    }

    private static int PartNumber(S3Request s3) =>
        int.TryParse(s3.Target.Get("partNumber"), NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is >= 1 and <= MultipartUploads.MaxPartNumber
            ? number
            : throw S3Errors.InvalidArgument($"Part number must be an integer between 1 and {MultipartUploads.MaxPartNumber}, inclusive.");

    private static int Number(S3Request s3, string parameter, int fallback) =>
        s3.Target.Get(parameter) is not { } text ? fallback
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number
        : throw S3Errors.InvalidArgument($"{parameter} must be a whole number.");
}
