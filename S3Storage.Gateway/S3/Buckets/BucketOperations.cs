using System.Xml.Linq;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Metadata.Entities;
using static S3Storage.Gateway.S3.S3Xml;

namespace S3Storage.Gateway.S3.Buckets;

/// <summary>ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning.</summary>
public static class BucketOperations
{
    public static async Task ListBucketsAsync(S3Request s3)
    {
        var buckets = await s3.Service<BucketStore>().ListAsync(s3.Caller, s3.Aborted);
        await WriteAsync(s3.Response, Element(
            "ListAllMyBucketsResult",
            Owner(s3.Caller.AccessKeyId),
            Element("Buckets", buckets.Select(b => Element("Bucket", Element("Name", b.Name), Element("CreationDate", Time(b.CreatedAt)))))));
    }

    public static async Task CreateBucketAsync(S3Request s3)
    {
        // The body, when there is one, is a CreateBucketConfiguration naming a region: every
        // region is this store, so it is read (to check it is well-formed) and not kept.
        if (s3.Request.ContentLength is > 0 || s3.Signed.IsStreaming)
        {
            var body = await Signing.S3Payload.ReadSmallAsync(s3.Request, s3.Signed, 64 * 1024, s3.Aborted);
            if (body.Length > 0)
            {
                Parse(body);
            }
        }

        await s3.Service<BucketStore>().CreateAsync(s3.Bucket, s3.Caller, s3.Aborted);
        s3.Response.Headers.Location = "/" + s3.Bucket;
    }

    public static async Task HeadBucketAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Read, s3.Aborted);
        s3.Response.Headers["x-amz-bucket-region"] = s3.Service<IOptions<S3Options>>().Value.Region;
    }

    public static async Task DeleteBucketAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().DeleteAsync(s3.Bucket, s3.Caller, s3.Aborted);
        s3.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    public static async Task GetLocationAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Read, s3.Aborted);
        var region = s3.Service<IOptions<S3Options>>().Value.Region;
        // us-east-1 is written as an empty constraint, as S3 does.
        await WriteAsync(s3.Response, Element("LocationConstraint", region == "us-east-1" ? null : region));
    }

    public static async Task GetVersioningAsync(S3Request s3)
    {
        await s3.Service<BucketStore>().RequireAsync(s3.Bucket, s3.Caller, BucketPermission.Read, s3.Aborted);
        // Buckets here are never versioned: S3 answers an empty configuration for those.
        await WriteAsync(s3.Response, Element("VersioningConfiguration"));
    }

    public static XElement Owner(string accessKeyId) => Element("Owner", Element("ID", accessKeyId), Element("DisplayName", accessKeyId));
}
