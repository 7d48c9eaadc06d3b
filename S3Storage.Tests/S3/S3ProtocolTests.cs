using System.Text;
using Microsoft.AspNetCore.Http;
using S3Storage.Gateway.S3;
using S3Storage.Gateway.S3.Listing;
using S3Storage.Gateway.S3.Multipart;
using S3Storage.Gateway.S3.Objects;
using S3Storage.Gateway.S3.Signing;

namespace S3Storage.Tests.S3;

/// <summary>The S3 wire details that are easy to get wrong, checked against published values, without a cluster.</summary>
public sealed class S3ProtocolTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    // AWS's worked example of a signed aws-chunked upload (S3 API reference, "Signature
    // Calculations for the Authorization Header: Transferring Payload in Multiple Chunks"):
    // 65,536 and 1,024 bytes of 'a', and the signatures AWS lists for the seed and each chunk.
    private const string ExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    private const string ExampleSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    private static SignedRequest ExampleRequest(string payloadHash = SigV4.StreamingSigned) =>
        new("AKIAIOSFODNN7EXAMPLE", payloadHash, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", ExampleSeed, SigV4.SigningKey(ExampleSecret, "20130524", "us-east-1"), Presigned: false);

    private static byte[] ExampleBody(byte? flipped = null)
    {
        var body = new StringBuilder()
            .Append("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n").Append('a', 65536).Append("\r\n")
            .Append("400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n").Append('a', 1024).Append("\r\n")
            .Append("0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
        var bytes = Encoding.ASCII.GetBytes(body.ToString());
        if (flipped is { } at)
        {
            bytes[at] = (byte)'b';
        }

        return bytes;
    }

    /// <summary>The decoded bytes. A chunk's bytes are passed on as they arrive and its signature checked at its end, so a bad chunk fails the read that ends it.</summary>
    private static async Task<byte[]> DecodeAsync(byte[] body, SignedRequest signed)
    {
        var reader = new AwsChunkedReader(System.IO.Pipelines.PipeReader.Create(new MemoryStream(body)), signed);
        var buffer = new byte[10_000];
        using var decoded = new MemoryStream();
        int read;
        while ((read = await reader.ReadAsync(buffer, Cancel)) > 0)
        {
            decoded.Write(buffer, 0, read);
        }

        return decoded.ToArray();
    }

    [Fact]
    public async Task AWS_example_of_signed_chunks_decodes_with_every_chunk_signature_verified()
    {
        var decoded = await DecodeAsync(ExampleBody(), ExampleRequest());
        Assert.Equal(66560, decoded.Length);
        Assert.All(decoded, b => Assert.Equal((byte)'a', b));
    }

    [Fact]
    public async Task A_changed_byte_a_wrong_seed_or_a_cut_body_fails_the_chunk_chain()
    {
        var changed = await Assert.ThrowsAsync<S3Exception>(() => DecodeAsync(ExampleBody(flipped: 100), ExampleRequest()));
        Assert.Equal("SignatureDoesNotMatch", changed.Code);

        var otherSeed = ExampleRequest() with { Signature = new string('0', 64) };
        Assert.Equal("SignatureDoesNotMatch", (await Assert.ThrowsAsync<S3Exception>(() => DecodeAsync(ExampleBody(), otherSeed))).Code);

        var cut = ExampleBody()[..60_000];
        Assert.Equal("IncompleteBody", (await Assert.ThrowsAsync<S3Exception>(() => DecodeAsync(cut, ExampleRequest()))).Code);
    }

    [Theory]
    [InlineData("crc32", "hello", "NhCmhg==")]
    [InlineData("crc64nvme", "hello", "M3eFcAZSQlc=")]
    [InlineData("crc32", "123456789", "y/Q5Jg==")]
    [InlineData("crc32c", "123456789", "4waSgw==")]
    [InlineData("crc64nvme", "123456789", "rosUhgp5mIg=")]
    [InlineData("sha256", "hello", "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=")]
    [InlineData("sha1", "hello", "qvTGHdzF6KLavt4PO0gs2a6pQ00=")]
    public void Checksums_are_S3s_big_endian_base64_of_the_right_algorithm(string algorithm, string text, string expected)
    {
        using var checksum = PayloadChecksum.Create(algorithm);
        checksum.Append(Encoding.ASCII.GetBytes(text));
        Assert.Equal(expected, checksum.Value());
    }

    private static HttpRequest UnsignedTrailerRequest(string body, string trailer, long decodedLength)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers["x-amz-decoded-content-length"] = decodedLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Request.Headers["x-amz-trailer"] = trailer;
        context.Request.Headers["Content-Encoding"] = "aws-chunked";
        context.Request.Body = new MemoryStream(Encoding.ASCII.GetBytes(body));
        return context.Request;
    }

    private static async Task<PayloadDigest> ReadPayloadAsync(HttpRequest request)
    {
        using var payload = S3Payload.Open(request, ExampleRequest(SigV4.StreamingUnsignedTrailer), 1 << 20);
        var buffer = new byte[4];
        while (await payload.ReadAsync(buffer, Cancel) > 0)
        {
        }

        return await payload.FinishAsync(Cancel);
    }

    [Fact]
    public async Task An_unsigned_payload_with_a_trailer_is_decoded_and_its_checksum_verified_as_botocore_and_the_JS_SDK_send_it()
    {
        // Exactly the framing of botocore's AwsChunkedWrapper: "hello" in two chunks, a CRC64NVME trailer.
        var digest = await ReadPayloadAsync(UnsignedTrailerRequest("3\r\nhel\r\n2\r\nlo\r\n0\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\r\n\r\n", "x-amz-checksum-crc64nvme", 5));
        Assert.Equal("5d41402abc4b2a76b9719d911017c592", digest.Md5Hex);
        Assert.Equal("M3eFcAZSQlc=", digest.ChecksumValue);

        var wrong = await Assert.ThrowsAsync<S3Exception>(() => ReadPayloadAsync(UnsignedTrailerRequest("5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:AAAAAAAAAAA=\r\n\r\n", "x-amz-checksum-crc64nvme", 5)));
        Assert.Equal("BadDigest", wrong.Code);

        var missing = await Assert.ThrowsAsync<S3Exception>(() => ReadPayloadAsync(UnsignedTrailerRequest("5\r\nhello\r\n0\r\n\r\n", "x-amz-checksum-crc32", 5)));
        Assert.Equal("InvalidRequest", missing.Code);

        var truncated = await Assert.ThrowsAsync<S3Exception>(() => ReadPayloadAsync(UnsignedTrailerRequest("5\r\nhel", "x-amz-checksum-crc32", 5)));
        Assert.Equal("IncompleteBody", truncated.Code);

        var longer = await Assert.ThrowsAsync<S3Exception>(() => ReadPayloadAsync(UnsignedTrailerRequest("6\r\nhello!\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", "x-amz-checksum-crc32", 5)));
        Assert.Equal("IncompleteBody", longer.Code);
    }

    [Theory]
    [InlineData("bytes=0-9", 100, 0, 10)]
    [InlineData("bytes=90-", 100, 90, 10)]
    [InlineData("bytes=-10", 100, 90, 10)]
    [InlineData("bytes=-500", 100, 0, 100)]
    [InlineData("bytes=50-5000", 100, 50, 50)]
    public void Satisfiable_ranges_resolve_as_S3_does(string header, long size, long start, long length)
    {
        Assert.Equal((start, length), ByteRange.Parse(header)!.Resolve(size));
    }

    [Theory]
    [InlineData("bytes=100-", 100)]
    [InlineData("bytes=0-0", 0)]
    [InlineData("bytes=-5", 0)]
    public void Unsatisfiable_ranges_resolve_to_nothing(string header, long size) => Assert.Null(ByteRange.Parse(header)!.Resolve(size));

    [Theory]
    [InlineData("bytes=0-1,4-5")]
    [InlineData("bytes=5-1")]
    [InlineData("items=0-1")]
    [InlineData("bytes=x-1")]
    public void Multiple_or_malformed_ranges_are_ignored(string header) => Assert.Null(ByteRange.Parse(header));

    [Theory]
    [InlineData("a", "b")]
    [InlineData("dir/", "dir0")]
    [InlineData("a\U0010FFFF", "b")]
    [InlineData("\uD7FF", "\uE000")]
    public void The_successor_of_a_prefix_bounds_every_key_under_it(string prefix, string successor)
    {
        Assert.Equal(successor, KeyOrder.Successor(prefix));
    }

    [Fact]
    public void The_multipart_ETag_is_the_MD5_of_the_part_MD5s_and_the_part_count()
    {
        var parts = new[] { "a", "b" }.Select(p => Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(Encoding.ASCII.GetBytes(p)))).ToList();
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(parts.SelectMany(Convert.FromHexString).ToArray())) + "-2";
        Assert.Equal(expected, MultipartUploads.MultipartETag(parts));
    }

    [Theory]
    [InlineData("a b+c/d~e", false, "a%20b%2Bc/d~e")]
    [InlineData("a/b", true, "a%2Fb")]
    [InlineData("é", false, "%C3%A9")]
    public void URI_encoding_is_AWS_UriEncode(string text, bool encodeSlash, string expected) => Assert.Equal(expected, SigV4.UriEncode(text, encodeSlash));

    [Fact]
    public void The_canonical_query_sorts_encoded_names_and_gives_valueless_parameters_an_equals_sign()
    {
        var query = new List<KeyValuePair<string, string>> { new("uploads", ""), new("prefix", "a b/"), new("X-Amz-Signature", "x"), new("max-keys", "2") };
        Assert.Equal("max-keys=2&prefix=a%20b%2F&uploads=", SigV4.CanonicalQuery(query));
    }

    [Theory]
    [InlineData("/bucket/a/../b?x-id=GetObject", "bucket", "a/../b")]
    [InlineData("/bucket/a%2Fb", "bucket", "a/b")]
    [InlineData("/bucket/x+y", "bucket", "x+y")]
    [InlineData("/bucket/", "bucket", null)]
    [InlineData("/", null, null)]
    public void The_bucket_and_key_come_from_the_raw_target_not_the_normalized_path(string rawTarget, string? bucket, string? key)
    {
        var context = new DefaultHttpContext();
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget = rawTarget;
        var target = S3Target.Parse(context, baseDomain: "");
        Assert.Equal(bucket, target.Bucket);
        Assert.Equal(key, target.Key);
    }

    [Fact]
    public void Virtual_host_addressing_takes_the_bucket_from_the_host_under_the_base_domain()
    {
        var context = new DefaultHttpContext();
        context.Request.Host = new HostString("photos.s3.example.com", 8080);
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget = "/2024/cat.jpg";
        var target = S3Target.Parse(context, baseDomain: "s3.example.com");
        Assert.Equal("photos", target.Bucket);
        Assert.Equal("2024/cat.jpg", target.Key);
    }
}
