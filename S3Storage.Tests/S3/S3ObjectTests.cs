using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Xml.Linq;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using static S3Storage.Tests.Cluster.FileClient;
using static S3Storage.Tests.Cluster.GeneratedContent;

namespace S3Storage.Tests.S3;

/// <summary>Buckets and single-blob objects through the AWS SDK for .NET against the real gateway, nodes and PostgreSQL.</summary>
[Collection(S3ClusterCollection.Name)]
public sealed class S3ObjectTests(S3ClusterFixture fixture)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static string NewBucket() => "b-" + Guid.NewGuid().ToString("N")[..20];

    private static async Task<byte[]> ReadAllAsync(GetObjectResponse response)
    {
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy, Cancel);
        return copy.ToArray();
    }

    [Fact]
    public async Task A_bucket_is_created_listed_located_headed_and_deleted_and_a_non_empty_one_is_refused()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);

        var buckets = await s3.ListBucketsAsync(new ListBucketsRequest(), Cancel);
        Assert.Contains(buckets.Buckets, b => b.BucketName == bucket);
        Assert.Equal(HttpStatusCode.OK, (await s3.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, Cancel)).HttpStatusCode);
        var location = await s3.GetBucketLocationAsync(bucket, Cancel);
        Assert.True(string.IsNullOrEmpty(location.Location?.Value) || location.Location == S3Region.USEast1);

        // In us-east-1 S3 answers the owner's repeated create with 200; another key gets BucketAlreadyExists.
        Assert.Equal(HttpStatusCode.OK, (await s3.PutBucketAsync(bucket, Cancel)).HttpStatusCode);
        using (var other = fixture.Client(await fixture.NewKeyAsync("read-write", Cancel)))
        {
            var taken = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => other.PutBucketAsync(bucket, Cancel));
            Assert.Equal("BucketAlreadyExists", taken.ErrorCode);
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        }

        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "k", ContentBody = "x" }, Cancel);
        var notEmpty = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.DeleteBucketAsync(bucket, Cancel));
        Assert.Equal("BucketNotEmpty", notEmpty.ErrorCode);

        await s3.DeleteObjectAsync(bucket, "k", Cancel);
        await s3.DeleteBucketAsync(bucket, Cancel);
        var gone = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, Cancel));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        var noBucket = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Cancel));
        Assert.Equal("NoSuchBucket", noBucket.ErrorCode);
    }

    [Theory]
    [InlineData("files")]
    [InlineData("admin")]
    [InlineData("health")]
    [InlineData("ab")]
    [InlineData("Upper-Case")]
    [InlineData("under_score")]
    [InlineData("192.168.1.1")]
    [InlineData("double..dot")]
    public async Task Invalid_and_reserved_bucket_names_are_refused_as_InvalidBucketName(string name)
    {
        using var s3 = fixture.Client();
        var refused = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.PutBucketAsync(name, Cancel));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("InvalidBucketName", refused.ErrorCode);
    }

    [Fact]
    public async Task An_object_comes_back_byte_for_byte_with_its_MD5_ETag_type_and_headers_and_an_overwrite_replaces_it_whole()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        var data = Bytes(3 * 1024 * 1024 + 17, seed: 1);
        // The SDK's default: signed aws-chunked with a CRC32 trailer.
        var put = new PutObjectRequest { BucketName = bucket, Key = "dir/photo.jpg", InputStream = new MemoryStream(data), ContentType = "image/jpeg" };
        put.Metadata["color"] = "blue";
        put.Headers.CacheControl = "max-age=60";
        put.Headers.ContentDisposition = "attachment; filename=\"photo.jpg\"";
        var stored = await s3.PutObjectAsync(put, Cancel);
        var md5 = Convert.ToHexStringLower(MD5.HashData(data));
        Assert.Equal($"\"{md5}\"", stored.ETag);

        using (var got = await s3.GetObjectAsync(bucket, "dir/photo.jpg", Cancel))
        {
            Assert.Equal(data, await ReadAllAsync(got));
            Assert.Equal($"\"{md5}\"", got.ETag);
            Assert.Equal("image/jpeg", got.Headers.ContentType);
            Assert.Equal("blue", got.Metadata["color"]);
            Assert.Equal("max-age=60", got.Headers.CacheControl);
            Assert.Equal("attachment; filename=\"photo.jpg\"", got.Headers.ContentDisposition);
        }

        var head = await s3.GetObjectMetadataAsync(bucket, "dir/photo.jpg", Cancel);
        Assert.Equal(data.Length, head.ContentLength);
        Assert.Equal($"\"{md5}\"", head.ETag);

        var replacement = Bytes(1000, seed: 2);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "dir/photo.jpg", InputStream = new MemoryStream(replacement) }, Cancel);
        using (var got = await s3.GetObjectAsync(bucket, "dir/photo.jpg", Cancel))
        {
            Assert.Equal(replacement, await ReadAllAsync(got));
            Assert.False(got.Metadata.Keys.Contains("x-amz-meta-color"));
        }

        // The replaced blob is deleted after the switch: one blob of that name is left.
        Assert.Equal(1, await fixture.CountAsync("FROM files f JOIN object_blobs b ON b.file_id = f.file_id JOIN objects o ON o.object_id = b.object_id WHERE o.bucket_name = $1", Cancel, bucket));
        await WaitForAsync(async () => await fixture.CountAsync("FROM files WHERE filename = 'photo.jpg'", Cancel) == 1);
    }

    [Theory]
    [InlineData("plain-sha256")]
    [InlineData("signed-chunks")]
    [InlineData("signed-chunks-crc32c-trailer")]
    [InlineData("signed-chunks-sha256-trailer")]
    [InlineData("signed-chunks-sha1-trailer")]
    [InlineData("crc32-header")]
    public async Task Every_payload_mode_the_SDK_sends_stores_the_bytes(string mode)
    {
        using var s3 = fixture.Client(configure: config =>
        {
            if (mode is "signed-chunks" or "plain-sha256")
            {
                config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            }
        });
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        var data = Bytes(300_000, seed: 3);
        var put = new PutObjectRequest { BucketName = bucket, Key = mode, InputStream = new MemoryStream(data) };
        switch (mode)
        {
            case "plain-sha256":
                put.UseChunkEncoding = false;
                break;
            case "signed-chunks-crc32c-trailer":
                put.ChecksumAlgorithm = ChecksumAlgorithm.CRC32C;
                break;
            case "signed-chunks-sha256-trailer":
                put.ChecksumAlgorithm = ChecksumAlgorithm.SHA256;
                break;
            case "signed-chunks-sha1-trailer":
                put.ChecksumAlgorithm = ChecksumAlgorithm.SHA1;
                break;
            case "crc32-header":
                put.UseChunkEncoding = false;
                put.ChecksumCRC32 = Crc32Base64(data);
                break;
        }

        await s3.PutObjectAsync(put, Cancel);
        using var got = await s3.GetObjectAsync(bucket, mode, Cancel);
        Assert.Equal(data, await ReadAllAsync(got));
    }

    [Fact]
    public async Task A_wrong_checksum_or_Content_MD5_is_BadDigest_and_nothing_becomes_visible()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        var data = Bytes(200_000, seed: 4);

        var wrongCrc = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.PutObjectAsync(
            new PutObjectRequest { BucketName = bucket, Key = "crc", InputStream = new MemoryStream(data), ChecksumCRC32 = "AAAAAA==" }, Cancel));
        Assert.Equal("BadDigest", wrongCrc.ErrorCode);

        var wrongMd5 = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.PutObjectAsync(
            new PutObjectRequest { BucketName = bucket, Key = "md5", InputStream = new MemoryStream(data), MD5Digest = Convert.ToBase64String(MD5.HashData(data.AsSpan(1))) }, Cancel));
        Assert.Equal("BadDigest", wrongMd5.ErrorCode);

        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Cancel);
        Assert.Empty(listed.S3Objects ?? []);
        // The blobs of both refused uploads were abandoned, never completed.
        Assert.Equal(0, await fixture.CountAsync("FROM files WHERE filename IN ('crc', 'md5') AND upload_status = 'completed'", Cancel));
    }

    [Fact]
    public async Task A_body_altered_in_flight_fails_its_chunk_signature_and_leaves_nothing()
    {
        using var s3 = fixture.Client(configure: config => config.HttpClientFactory = new TamperingHttpClientFactory(flipAt: 150_000));
        var bucket = NewBucket();
        using (var admin = fixture.Client())
        {
            await admin.PutBucketAsync(bucket, Cancel);
        }

        var data = Bytes(300_000, seed: 5);
        var refused = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.PutObjectAsync(
            new PutObjectRequest { BucketName = bucket, Key = "tampered", InputStream = new MemoryStream(data) }, Cancel));
        Assert.Equal("SignatureDoesNotMatch", refused.ErrorCode);
        using var admin2 = fixture.Client();
        var missing = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => admin2.GetObjectMetadataAsync(bucket, "tampered", Cancel));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task A_wrong_secret_an_unknown_key_and_no_signature_are_refused_with_S3_error_codes()
    {
        using var wrongSecret = fixture.Client(fixture.AdminKey.AccessKeyId, new string('x', 40));
        var mismatch = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => wrongSecret.ListBucketsAsync(new ListBucketsRequest(), Cancel));
        Assert.Equal("SignatureDoesNotMatch", mismatch.ErrorCode);
        Assert.Equal(HttpStatusCode.Forbidden, mismatch.StatusCode);

        using var unknown = fixture.Client("S3SKAAAAAAAAAAAAAAAA", new string('x', 40));
        var unknownKey = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => unknown.ListBucketsAsync(new ListBucketsRequest(), Cancel));
        Assert.Equal("InvalidAccessKeyId", unknownKey.ErrorCode);

        using var anonymous = new HttpClient { BaseAddress = fixture.Cluster.Gateway.Address };
        using var response = await anonymous.GetAsync("/some-bucket?acl", Cancel);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var error = XElement.Parse(await response.Content.ReadAsStringAsync(Cancel));
        Assert.Equal("AccessDenied", error.Element("Code")?.Value);
        Assert.Equal(response.Headers.GetValues("x-amz-request-id").Single(), error.Element("RequestId")?.Value);
    }

    [Fact]
    public async Task Presigned_GET_and_PUT_work_until_they_expire()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        using var http = new HttpClient();
        var data = Bytes(70_000, seed: 6);

        var putUrl = await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest { BucketName = bucket, Key = "pre signed+key", Verb = HttpVerb.PUT, Expires = DateTime.UtcNow.AddMinutes(5), Protocol = Protocol.HTTP });
        using (var put = await http.PutAsync(putUrl, new ByteArrayContent(data), Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var getUrl = await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest { BucketName = bucket, Key = "pre signed+key", Verb = HttpVerb.GET, Expires = DateTime.UtcNow.AddMinutes(5), Protocol = Protocol.HTTP });
        Assert.Equal(data, await http.GetByteArrayAsync(getUrl, Cancel));

        var expiredUrl = await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest { BucketName = bucket, Key = "pre signed+key", Verb = HttpVerb.GET, Expires = DateTime.UtcNow.AddSeconds(1), Protocol = Protocol.HTTP });
        await Task.Delay(TimeSpan.FromSeconds(2.5), Cancel);
        using var expired = await http.GetAsync(expiredUrl, Cancel);
        Assert.Equal(HttpStatusCode.Forbidden, expired.StatusCode);
        Assert.Equal("AccessDenied", XElement.Parse(await expired.Content.ReadAsStringAsync(Cancel)).Element("Code")?.Value);
    }

    [Fact]
    public async Task Keys_with_dots_escapes_plus_spaces_and_non_ASCII_survive_as_sent()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        string[] keys = ["a/../b", "a%2Fb", "x+y", "sp ace/é ü", "./dot", "a//double", "tab\there", "日本語/ключ"];
        foreach (var key in keys)
        {
            await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = key }, Cancel);
        }

        foreach (var key in keys)
        {
            using var got = await s3.GetObjectAsync(bucket, key, Cancel);
            Assert.Equal(key, System.Text.Encoding.UTF8.GetString(await ReadAllAsync(got)));
        }

        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Cancel);
        var expected = keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        // UTF-8 byte order equals code point order; Ordinal compares UTF-16 units, the same for these keys.
        Assert.Equal(expected, listed.S3Objects.Select(o => o.Key).ToList());

        var tooLong = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = new string('k', 1025), ContentBody = "x" }, Cancel));
        Assert.Equal("KeyTooLongError", tooLong.ErrorCode);
    }

    [Fact]
    public async Task Ranges_conditions_and_missing_keys_answer_as_S3_does()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        var data = Bytes(100_000, seed: 7);
        var etag = (await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "r", InputStream = new MemoryStream(data) }, Cancel)).ETag;

        using (var part = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "r", ByteRange = new ByteRange(10, 99) }, Cancel))
        {
            Assert.Equal(HttpStatusCode.PartialContent, part.HttpStatusCode);
            Assert.Equal(data[10..100], await ReadAllAsync(part));
            Assert.Equal("bytes 10-99/100000", part.ContentRange);
        }

        using (var suffix = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "r", ByteRange = new ByteRange("bytes=-500") }, Cancel))
        {
            Assert.Equal(data[^500..], await ReadAllAsync(suffix));
        }

        var unsatisfiable = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "r", ByteRange = new ByteRange(100_000, 100_010) }, Cancel));
        Assert.Equal("InvalidRange", unsatisfiable.ErrorCode);

        var notModified = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "r", EtagToNotMatch = etag }, Cancel));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        var failed = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "r", EtagToMatch = "\"0123\"" }, Cancel));
        Assert.Equal("PreconditionFailed", failed.ErrorCode);
        using (var matched = await s3.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "r", EtagToMatch = etag }, Cancel))
        {
            Assert.Equal(data, await ReadAllAsync(matched));
        }

        var missing = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectAsync(bucket, "nope", Cancel));
        Assert.Equal("NoSuchKey", missing.ErrorCode);
        var missingHead = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectMetadataAsync(bucket, "nope", Cancel));
        Assert.Equal(HttpStatusCode.NotFound, missingHead.StatusCode);

        var overrides = await s3.GetObjectAsync(new GetObjectRequest
        {
            BucketName = bucket,
            Key = "r",
            ResponseHeaderOverrides = new ResponseHeaderOverrides { ContentType = "text/plain", ContentDisposition = "inline" },
        }, Cancel);
        Assert.Equal("text/plain", overrides.Headers.ContentType);
        Assert.Equal("inline", overrides.Headers.ContentDisposition);
        overrides.Dispose();
    }

    [Fact]
    public async Task Copy_and_batch_delete_work_and_report_each_key()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        var data = Bytes(50_000, seed: 8);
        var put = new PutObjectRequest { BucketName = bucket, Key = "source", InputStream = new MemoryStream(data), ContentType = "text/csv" };
        put.Metadata["origin"] = "test";
        await s3.PutObjectAsync(put, Cancel);

        var copied = await s3.CopyObjectAsync(new CopyObjectRequest { SourceBucket = bucket, SourceKey = "source", DestinationBucket = bucket, DestinationKey = "copy/of source" }, Cancel);
        Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData(data))}\"", copied.ETag);
        using (var got = await s3.GetObjectAsync(bucket, "copy/of source", Cancel))
        {
            Assert.Equal(data, await ReadAllAsync(got));
            Assert.Equal("text/csv", got.Headers.ContentType);
            Assert.Equal("test", got.Metadata["origin"]);
        }

        var deleted = await s3.DeleteObjectsAsync(new DeleteObjectsRequest
        {
            BucketName = bucket,
            Objects = [new KeyVersion { Key = "source" }, new KeyVersion { Key = "copy/of source" }, new KeyVersion { Key = "never-existed" }],
        }, Cancel);
        Assert.Equal(["copy/of source", "never-existed", "source"], deleted.DeletedObjects.Select(d => d.Key).Order(StringComparer.Ordinal).ToArray());
        Assert.Empty((await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Cancel)).S3Objects ?? []);
    }

    [Fact]
    public async Task Roles_and_bucket_grants_decide_who_reaches_a_bucket()
    {
        using var admin = fixture.Client();
        var bucket = NewBucket();
        await admin.PutBucketAsync(bucket, Cancel);
        await admin.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "k", ContentBody = "secret" }, Cancel);
        var writerKey = await fixture.NewKeyAsync("read-write", Cancel);
        var readerKey = await fixture.NewKeyAsync("read-only", Cancel);
        using var writer = fixture.Client(writerKey);
        using var reader = fixture.Client(readerKey);

        // Another tenant's bucket: neither listed nor readable.
        Assert.DoesNotContain((await writer.ListBucketsAsync(new ListBucketsRequest(), Cancel)).Buckets ?? [], b => b.BucketName == bucket);
        Assert.Equal("AccessDenied", (await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => writer.GetObjectAsync(bucket, "k", Cancel))).ErrorCode);

        using (var grant = await fixture.Http.PutAsJsonAsync($"/admin/buckets/{bucket}/grants/{readerKey.AccessKeyId}", new { permission = "write" }, Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, grant.StatusCode);
        }

        // Granted write, but its role is read-only: it reads and never writes.
        using (var got = await reader.GetObjectAsync(bucket, "k", Cancel))
        {
            Assert.Equal("secret", System.Text.Encoding.UTF8.GetString(await ReadAllAsync(got)));
        }

        Assert.Equal("AccessDenied", (await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => reader.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "k2", ContentBody = "x" }, Cancel))).ErrorCode);
        Assert.Equal("AccessDenied", (await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => reader.PutBucketAsync(NewBucket(), Cancel))).ErrorCode);

        // The creator of a bucket owns it.
        var own = NewBucket();
        await writer.PutBucketAsync(own, Cancel);
        await writer.PutObjectAsync(new PutObjectRequest { BucketName = own, Key = "mine", ContentBody = "x" }, Cancel);
        Assert.Contains((await writer.ListBucketsAsync(new ListBucketsRequest(), Cancel)).Buckets, b => b.BucketName == own);
        Assert.Contains((await admin.ListBucketsAsync(new ListBucketsRequest(), Cancel)).Buckets, b => b.BucketName == own);
    }

    [Fact]
    public async Task What_the_store_does_not_implement_answers_501_NotImplemented()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        var refused = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetBucketPolicyAsync(new GetBucketPolicyRequest { BucketName = bucket }, Cancel));
        Assert.Equal(HttpStatusCode.NotImplemented, refused.StatusCode);
        Assert.Equal("NotImplemented", refused.ErrorCode);
    }

    [Fact]
    public async Task A_blob_of_an_object_cannot_be_deleted_through_files_and_only_admin_keys_see_it_there()
    {
        using var s3 = fixture.Client();
        var bucket = NewBucket();
        await s3.PutBucketAsync(bucket, Cancel);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "pinned-blob", ContentBody = "x" }, Cancel);
        await using var connection = new Npgsql.NpgsqlConnection(fixture.Cluster.MetadataConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new Npgsql.NpgsqlCommand("SELECT b.file_id FROM object_blobs b JOIN objects o USING (object_id) WHERE o.bucket_name = $1 AND o.key = 'pinned-blob'", connection);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = bucket });
        var fileId = (Guid)(await command.ExecuteScalarAsync(Cancel))!;

        using (var response = await fixture.Http.DeleteAsync($"/files/{fileId}", Cancel))
        {
            await ProblemAsync(response, HttpStatusCode.Conflict, Cancel);
        }

        // Bucket grants decide who reads an object: through /files, only admin keys see its blob.
        var other = await fixture.NewKeyAsync("read-write", Cancel);
        using var otherHttp = fixture.Cluster.Gateway.CreateClient(other.Value);
        using (var download = await otherHttp.GetAsync($"/files/{fileId}", Cancel))
        {
            Assert.Equal(HttpStatusCode.NotFound, download.StatusCode);
        }

        using (var metadata = await otherHttp.GetAsync($"/files/{fileId}/metadata", Cancel))
        {
            Assert.Equal(HttpStatusCode.NotFound, metadata.StatusCode);
        }

        using (var delete = await otherHttp.DeleteAsync($"/files/{fileId}", Cancel))
        {
            Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
        }

        Assert.DoesNotContain(fileId.ToString(), await otherHttp.GetStringAsync("/files?per_page=1000", Cancel));
        Assert.Contains(fileId.ToString(), await fixture.Http.GetStringAsync("/files?per_page=1000", Cancel));
        using var got = await s3.GetObjectAsync(bucket, "pinned-blob", Cancel);
        Assert.Equal("x", System.Text.Encoding.UTF8.GetString(await ReadAllAsync(got)));
    }

    private static string Crc32Base64(byte[] data)
    {
        var crc = System.IO.Hashing.Crc32.HashToUInt32(data);
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, crc);
        return Convert.ToBase64String(bytes);
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

/// <summary>An HTTP client factory for the SDK whose requests have one body byte flipped after signing, as a faulty network or proxy would.</summary>
public sealed class TamperingHttpClientFactory(long flipAt) : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new TamperingHandler(flipAt) { InnerHandler = new HttpClientHandler() });

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    private sealed class TamperingHandler(long flipAt) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is { } content && request.Method == HttpMethod.Put)
            {
                var body = await content.ReadAsByteArrayAsync(cancellationToken);
                if (body.Length > flipAt)
                {
                    body[flipAt] ^= 0xFF;
                }

                var altered = new ByteArrayContent(body);
                foreach (var header in content.Headers)
                {
                    altered.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }

                request.Content = altered;
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
