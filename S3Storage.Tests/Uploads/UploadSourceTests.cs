using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Http;
using S3Storage.Gateway.Apis;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.Uploads;

namespace S3Storage.Tests.Uploads;

/// <summary>The two ways a <c>POST /files</c> request carries a file, read without a cluster: the bytes handed to the upload core are exactly the file's.</summary>
public sealed class UploadSourceTests
{
    private const long MaxFileSize = 10 * 1024 * 1024;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_raw_body_is_the_file_with_its_name_from_the_query_and_its_type_from_the_body()
    {
        var data = Bytes(300_000, seed: 1);
        var request = Request(data, "application/x-test; charset=binary", "/files", "?filename=raw%20file.bin");

        var source = await UploadRequests.OpenSourceAsync(request, MaxFileSize, Cancel);

        Assert.IsType<RawBodySource>(source);
        Assert.Equal("raw file.bin", source.Filename);
        Assert.Equal("application/x-test; charset=binary", source.ContentType);
        Assert.Equal(data.Length, source.Length);
        Assert.Equal(data, await ReadAllAsync(source, 7_919));
        Assert.Equal(data.Length, source.Received);
        await source.ReadEndAsync(Cancel);
    }

    [Fact]
    public async Task A_raw_body_shorter_than_its_length_is_refused_when_it_ends()
    {
        var source = new RawBodySource(PipeReader.Create(new MemoryStream(Bytes(1000, seed: 2))), "short.bin", "application/octet-stream", 1500, MaxFileSize);

        var refused = await Assert.ThrowsAsync<StoreException>(() => ReadAllAsync(source, 4096));

        Assert.Equal(StoreFailure.InvalidRequest, refused.Failure);
        Assert.Equal("The body ended early", refused.Title);
        Assert.Contains("after 1000 of the file's 1500 bytes", refused.Message);
    }

    [Fact]
    public async Task A_form_gives_its_file_part_whatever_fields_come_first_as_a_real_client_frames_it()
    {
        var data = Bytes(200_003, seed: 3);
        using var form = new MultipartFormDataContent("----s3storage-test-boundary");
        form.Add(new StringContent("a field before the file"), "description");
        form.Add(new ByteArrayContent(data) { Headers = { ContentType = new MediaTypeHeaderValue("image/png") } }, "file", "picture.png");
        var body = await form.ReadAsByteArrayAsync(Cancel);
        var request = Request(body, form.Headers.ContentType!.ToString(), "/files", "");

        var source = await UploadRequests.OpenSourceAsync(request, MaxFileSize, Cancel);

        Assert.IsType<MultipartFileSource>(source);
        Assert.Equal("picture.png", source.Filename);
        Assert.Equal("image/png", source.ContentType);
        Assert.Equal(data.Length, source.Length);
        // Small reads make the part delimiter check straddle reads.
        Assert.Equal(data, await ReadAllAsync(source, 5));
        await source.ReadEndAsync(Cancel);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(64 * 1024)]
    public async Task A_form_whose_file_part_is_not_the_last_is_refused_while_the_file_is_read(int readSize)
    {
        using var form = new MultipartFormDataContent("b0undary");
        form.Add(new ByteArrayContent(Bytes(10_000, seed: 4)), "file", "first.bin");
        form.Add(new StringContent("a field after the file"), "note");
        var body = await form.ReadAsByteArrayAsync(Cancel);

        var source = await UploadRequests.OpenSourceAsync(Request(body, form.Headers.ContentType!.ToString(), "/files", ""), MaxFileSize, Cancel);
        var refused = await Assert.ThrowsAsync<StoreException>(() => ReadAllAsync(source, readSize));

        Assert.Equal(StoreFailure.InvalidRequest, refused.Failure);
        Assert.Equal("The form is malformed", refused.Title);
        Assert.Contains("another part follows it", refused.Message);
    }

    [Fact]
    public async Task A_form_with_bytes_after_its_closing_boundary_is_refused_at_the_end()
    {
        using var form = new MultipartFormDataContent("b0undary");
        form.Add(new ByteArrayContent(Bytes(1000, seed: 5)), "file", "file.bin");
        var body = (await form.ReadAsByteArrayAsync(Cancel)).Concat("trailing"u8.ToArray()).ToArray();
        // Content-Length covers the trailing bytes, so the file seems longer by as much and then ends wrongly.
        var source = await UploadRequests.OpenSourceAsync(Request(body, form.Headers.ContentType!.ToString(), "/files", ""), MaxFileSize, Cancel);

        var refused = await Assert.ThrowsAsync<StoreException>(async () =>
        {
            await ReadAllAsync(source, 4096);
            await source.ReadEndAsync(Cancel);
        });

        Assert.Equal(StoreFailure.InvalidRequest, refused.Failure);
        Assert.Equal("The form is malformed", refused.Title);
    }

    public static TheoryData<string, string?, long?, StoreFailure, string> RefusedRequests => new()
    {
        { "", null, 10, StoreFailure.InvalidRequest, "Content-Type is required" },
        { "application/octet-stream", "x.bin", null, StoreFailure.LengthRequired, "Content-Length is required" },
        { "not a media type", "x.bin", 10, StoreFailure.InvalidRequest, "Content-Type is malformed" },
        { "application/octet-stream", null, 10, StoreFailure.InvalidRequest, "A filename is required" },
        { "application/octet-stream", "bad\u0001name", 10, StoreFailure.InvalidRequest, "The filename is not acceptable" },
        { "application/octet-stream", "big.bin", MaxFileSize + 1, StoreFailure.TooLarge, "The file is too large" },
        { "multipart/form-data", null, 100, StoreFailure.InvalidRequest, "The form is malformed" },
        { "multipart/form-data; boundary=b", null, MaxFileSize + MultipartFileSource.MaxPreambleBytes + 1, StoreFailure.TooLarge, "The file is too large" },
    };

    [Theory]
    [MemberData(nameof(RefusedRequests))]
    public async Task A_request_that_cannot_be_stored_is_refused_before_the_file_is_read(string contentType, string? filename, long? contentLength, StoreFailure failure, string title)
    {
        var body = new CountingStream(Bytes(10, seed: 6));
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Post;
        context.Request.Path = "/files";
        context.Request.QueryString = filename is null ? QueryString.Empty : QueryString.Create("filename", filename);
        context.Request.ContentType = contentType;
        context.Request.ContentLength = contentLength;
        context.Request.Body = body;

        var refused = await Assert.ThrowsAsync<StoreException>(() => UploadRequests.OpenSourceAsync(context.Request, MaxFileSize, Cancel));

        Assert.Equal(failure, refused.Failure);
        Assert.Equal(title, refused.Title);
        Assert.Equal(0, body.BytesRead);
    }

    [Fact]
    public async Task A_form_without_a_file_part_is_refused()
    {
        using var form = new MultipartFormDataContent("b0undary");
        form.Add(new StringContent("only a field"), "note");
        var body = await form.ReadAsByteArrayAsync(Cancel);

        var refused = await Assert.ThrowsAsync<StoreException>(() => UploadRequests.OpenSourceAsync(Request(body, form.Headers.ContentType!.ToString(), "/files", ""), MaxFileSize, Cancel));

        Assert.Equal(StoreFailure.InvalidRequest, refused.Failure);
        Assert.Equal("The form has no part named 'file'.", refused.Message);
    }

    private static HttpRequest Request(byte[] body, string contentType, string path, string query)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Post;
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query);
        context.Request.ContentType = contentType;
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body);
        return context.Request;
    }

    private static async Task<byte[]> ReadAllAsync(UploadSource source, int readSize)
    {
        var result = new MemoryStream();
        var buffer = new byte[readSize];
        int read;
        while ((read = await source.ReadAsync(buffer, Cancel)) > 0)
        {
            result.Write(buffer, 0, read);
        }

        return result.ToArray();
    }

    private static byte[] Bytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A body that counts what was read of it.</summary>
    private sealed class CountingStream(byte[] data) : MemoryStream(data)
    {
        public long BytesRead { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await base.ReadAsync(buffer, cancellationToken);
            BytesRead += read;
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = base.Read(buffer, offset, count);
            BytesRead += read;
            return read;
        }
    }
}
