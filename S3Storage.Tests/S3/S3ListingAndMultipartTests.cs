using System.Net;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using static S3Storage.Tests.Cluster.FileClient;
using static S3Storage.Tests.Cluster.GeneratedContent;

namespace S3Storage.Tests.S3;

/// <summary>Listing across pages and multipart uploads, through the AWS SDK for .NET against the real cluster.</summary>
[Collection(S3ClusterCollection.Name)]
public sealed class S3ListingAndMultipartTests(S3ClusterFixture fixture)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static string NewBucket() => "l-" + Guid.NewGuid().ToString("N")[..20];

    [Fact]
    public async Task A_thousand_keys_list_in_byte_order_across_pages_with_and_without_a_delimiter_in_V2_and_V1()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        // 40 folders of 25 keys, and 10 keys at the top: 1,010 objects.
        var keys = Enumerable.Range(0, 40).SelectMany(d => Enumerable.Range(0, 25).Select(k => $"dir{d:D2}/file{k:D3}"))
            .Concat(Enumerable.Range(0, 10).Select(k => $"top{k}"))
            .ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Cancel }, async (key, ct) =>
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = key }, ct));
        var expected = keys.Order(StringComparer.Ordinal).ToList();

        // V2 without a delimiter, 100 per page.
        var listed = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, MaxKeys = 100, ContinuationToken = token }, Cancel);
            listed.AddRange(page.S3Objects.Select(o => o.Key));
            Assert.Equal(page.S3Objects.Count, page.KeyCount);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
            pages++;
        }
        while (token is not null);
        Assert.Equal(expected, listed);
        Assert.Equal(11, pages);

        // V2 with "/": 40 common prefixes and 10 keys, 7 entries a page.
        var prefixes = new List<string>();
        var topKeys = new List<string>();
        token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Delimiter = "/", MaxKeys = 7, ContinuationToken = token }, Cancel);
            prefixes.AddRange(page.CommonPrefixes ?? []);
            topKeys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            Assert.True(page.KeyCount <= 7);
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        Assert.Equal(Enumerable.Range(0, 40).Select(d => $"dir{d:D2}/").ToList(), prefixes);
        Assert.Equal(Enumerable.Range(0, 10).Select(k => $"top{k}").ToList(), topKeys);

        // A prefix and a delimiter that is not "/".
        // S3's rule: a key rolls up to its text through the first delimiter after the prefix.
        var inDir = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "dir07/", Delimiter = "1" }, Cancel);
        var underPrefix = expected.Where(k => k.StartsWith("dir07/", StringComparison.Ordinal)).ToList();
        Assert.Equal(underPrefix.Where(k => !k[6..].Contains('1')).ToArray(), inDir.S3Objects.Select(o => o.Key).ToArray());
        Assert.Equal(underPrefix.Where(k => k[6..].Contains('1')).Select(k => k[..(k.IndexOf('1', 6) + 1)]).Distinct().ToArray(), inDir.CommonPrefixes.ToArray());
        Assert.Equal(["dir07/file001", "dir07/file01", "dir07/file021"], inDir.CommonPrefixes.ToArray());

        // V1 with markers, as rclone and s3cmd list.
        var v1 = new List<string>();
        string? marker = null;
        do
        {
            var page = await s3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, MaxKeys = 250, Marker = marker }, Cancel);
            v1.AddRange(page.S3Objects.Select(o => o.Key));
            marker = page.IsTruncated == true ? page.NextMarker : null;
        }
        while (marker is not null);
        Assert.Equal(expected, v1);

        var v1Prefixes = await s3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Delimiter = "/", MaxKeys = 30 }, Cancel);
        Assert.True(v1Prefixes.IsTruncated);
        Assert.Equal("dir29/", v1Prefixes.NextMarker);
        var rest = await s3.ListObjectsAsync(new ListObjectsRequest { BucketName = bucket, Delimiter = "/", Marker = v1Prefixes.NextMarker }, Cancel);
        Assert.Equal("dir30/", rest.CommonPrefixes[0]);
        Assert.Equal(10, rest.S3Objects.Count);

        var versions = await s3.ListVersionsAsync(new ListVersionsRequest { BucketName = bucket, Prefix = "top" }, Cancel);
        Assert.Equal(10, versions.Versions.Count);
        Assert.All(versions.Versions, v => Assert.Equal("null", v.VersionId));

        var none = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, MaxKeys = 0 }, Cancel);
        Assert.False(none.IsTruncated ?? false);
        Assert.Empty(none.S3Objects ?? []);
    }

    [Fact]
    public async Task A_multipart_object_has_S3s_ETag_and_reads_back_across_part_boundaries()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        const int partSize = 5 * 1024 * 1024;
        byte[][] parts = [Bytes(partSize, 11), Bytes(partSize, 12), Bytes(1_234_567, 13)];
        var whole = parts.SelectMany(p => p).ToArray();
        var created = await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = "big/object.bin", ContentType = "application/x-test" }, Cancel);

        var listedUploads = await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket }, Cancel);
        Assert.Equal(created.UploadId, Assert.Single(listedUploads.MultipartUploads).UploadId);

        // Part 2 first, and part 1 twice: the second upload of a part number replaces the first.
        var etags = new Dictionary<int, string>();
        foreach (var (number, data) in new[] { (2, parts[1]), (1, Bytes(partSize, 99)), (1, parts[0]), (3, parts[2]) })
        {
            var uploaded = await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "big/object.bin", UploadId = created.UploadId, PartNumber = number, InputStream = new MemoryStream(data) }, Cancel);
            Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData(data))}\"", uploaded.ETag);
            etags[number] = uploaded.ETag;
        }

        var listedParts = await s3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = "big/object.bin", UploadId = created.UploadId }, Cancel);
        Assert.Equal([1, 2, 3], listedParts.Parts.Select(p => p.PartNumber ?? 0).ToArray());
        Assert.Equal(partSize, listedParts.Parts[0].Size);

        var complete = new CompleteMultipartUploadRequest { BucketName = bucket, Key = "big/object.bin", UploadId = created.UploadId };
        complete.AddPartETags(etags.OrderBy(e => e.Key).Select(e => new PartETag(e.Key, e.Value)));
        var completed = await s3.CompleteMultipartUploadAsync(complete, Cancel);
        var expectedETag = Convert.ToHexStringLower(MD5.HashData(parts.SelectMany(p => MD5.HashData(p)).ToArray())) + "-3";
        Assert.Equal($"\"{expectedETag}\"", completed.ETag);

        // Complete is idempotent: a client that lost the answer asks again and gets the same.
        Assert.Equal(completed.ETag, (await s3.CompleteMultipartUploadAsync(complete, Cancel)).ETag);

        using (var got = await s3.GetObjectAsync(bucket, "big/object.bin", Cancel))
        {
            using var all = new MemoryStream();
            await got.ResponseStream.CopyToAsync(all, Cancel);
            Assert.Equal(SHA256.HashData(whole), SHA256.HashData(all.ToArray()));
            Assert.Equal("application/x-test", got.Headers.ContentType);
        }

        // A range from inside part 1 to inside part 3.
        using (var range = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "big/object.bin", ByteRange = new ByteRange(partSize - 100, 2L * partSize + 100) }, Cancel))
        {
            using var slice = new MemoryStream();
            await range.ResponseStream.CopyToAsync(slice, Cancel);
            Assert.Equal(whole[(partSize - 100)..(2 * partSize + 101)], slice.ToArray());
        }

        // The replaced part's blob and nothing else was let go: three blobs hold the object.
        Assert.Equal(3, await fixture.CountAsync("FROM object_blobs b JOIN objects o USING (object_id) WHERE o.bucket_name = $1", Cancel, bucket));
        Assert.Empty((await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket }, Cancel)).MultipartUploads ?? []);
    }

    [Fact]
    public async Task Bad_part_lists_are_refused_and_an_aborted_upload_leaves_nothing()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        var created = await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = "m" }, Cancel);
        var small1 = await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "m", UploadId = created.UploadId, PartNumber = 1, InputStream = new MemoryStream(Bytes(1000, 21)) }, Cancel);
        var small2 = await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "m", UploadId = created.UploadId, PartNumber = 2, InputStream = new MemoryStream(Bytes(1000, 22)) }, Cancel);

        async Task<AmazonS3Exception> CompleteWith(params PartETag[] partETags)
        {
            var request = new CompleteMultipartUploadRequest { BucketName = bucket, Key = "m", UploadId = created.UploadId };
            request.AddPartETags(partETags);
            return await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.CompleteMultipartUploadAsync(request, Cancel));
        }

        Assert.Equal("EntityTooSmall", (await CompleteWith(new PartETag(1, small1.ETag), new PartETag(2, small2.ETag))).ErrorCode);
        Assert.Equal("InvalidPart", (await CompleteWith(new PartETag(1, "\"00000000000000000000000000000000\""))).ErrorCode);
        Assert.Equal("InvalidPart", (await CompleteWith(new PartETag(1, small1.ETag), new PartETag(5, small2.ETag))).ErrorCode);

        await s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = "m", UploadId = created.UploadId }, Cancel);
        var gone = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = "m", UploadId = created.UploadId }, Cancel));
        Assert.Equal("NoSuchUpload", gone.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(0, await fixture.CountAsync("FROM multipart_parts WHERE upload_id = $1", Cancel, created.UploadId));
        // The parts' blobs were released; the sweep deletes them after the fixture's 1 s grace.
        await WaitForAsync(async () => await fixture.CountAsync("FROM files WHERE filename LIKE 'm.part%'", Cancel) == 0);

        // A bucket with an upload still in progress can be deleted, as in S3: the upload's part goes with it.
        var pending = await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = "pending" }, Cancel);
        await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "pending", UploadId = pending.UploadId, PartNumber = 1, InputStream = new MemoryStream(Bytes(1000, 23)) }, Cancel);
        await s3.DeleteBucketAsync(bucket, Cancel);
        Assert.Equal(0, await fixture.CountAsync("FROM multipart_uploads WHERE upload_id = $1", Cancel, pending.UploadId));
        await WaitForAsync(async () => await fixture.CountAsync("FROM files WHERE filename = 'pending.part1'", Cancel) == 0);
    }

    [Fact]
    public async Task Upload_ids_can_be_passed_on_a_command_line()
    {
        // A CI run failed when an id began with '-' and the AWS CLI took it for an option; with
        // base64url ids one in 64 did, so 300 of them all but surely include one.
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        var ids = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            var created = await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = $"k{i}" }, Cancel);
            ids.Add(created.UploadId);
        }

        Assert.All(ids, id => Assert.Matches("^[A-Za-z0-9][A-Za-z0-9_-]*$", id));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        await s3.DeleteBucketAsync(bucket, Cancel);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within 20 s.");
            await Task.Delay(200, Cancel);
        }
    }
}
