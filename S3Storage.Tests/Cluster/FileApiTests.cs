using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using static S3Storage.Tests.Cluster.FileClient;

namespace S3Storage.Tests.Cluster;

/// <summary>The REST API end to end: curl-like requests to the gateway process, chunks on real node processes.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class FileApiTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_10_MiB_file_comes_back_byte_for_byte_as_raw_body_and_as_multipart()
    {
        var data = GeneratedContent.Bytes(10 * 1024 * 1024, seed: 1);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(data));

        var raw = await UploadRawAsync(Http, "raw report.pdf", new ByteArrayContent(data) { Headers = { ContentType = new MediaTypeHeaderValue("application/pdf") } }, Cancel);
        var form = await UploadMultipartAsync(Http, "form-photo.jpg", new ByteArrayContent(data) { Headers = { ContentType = new MediaTypeHeaderValue("image/jpeg") } }, Cancel);

        Assert.Equal(sha256, raw.Sha256);
        Assert.Equal(sha256, form.Sha256);
        Assert.Equal(data.Length, raw.Size);
        Assert.Equal(6, raw.ChunkCount);
        Assert.Equal("form-photo.jpg", form.Filename);
        Assert.Equal("image/jpeg", form.ContentType);

        using var response = await Http.GetAsync($"/files/{raw.FileId}", Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/pdf", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(data.Length, response.Content.Headers.ContentLength);
        Assert.Equal($"\"{sha256}\"", response.Headers.ETag?.Tag);
        Assert.Equal("raw report.pdf", response.Content.Headers.ContentDisposition?.FileNameStar);
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync(Cancel));
        Assert.Equal(data, await DownloadAsync(Http, form.FileId, Cancel));
    }

    [Fact]
    public async Task A_1_GiB_file_is_cut_into_six_chunks_spread_over_the_nodes_and_comes_back_whole()
    {
        const long size = (1L << 30) + 7;
        var expected = GeneratedContent.Sha256Of(size, seed: 2);

        var created = await UploadRawAsync(Http, "big.bin", new GeneratedContent(size, seed: 2), Cancel);
        Assert.Equal(expected, created.Sha256);

        var metadata = await MetadataAsync(Http, created.FileId, Cancel);
        Assert.Equal("completed", metadata.GetProperty("status").GetString());
        var chunks = metadata.GetProperty("chunks").EnumerateArray().ToList();
        Assert.Equal(6, chunks.Count);
        var chunkSize = (size + 5) / 6;
        var holders = new HashSet<string>();
        foreach (var chunk in chunks)
        {
            var number = chunk.GetProperty("chunk_number").GetInt32();
            Assert.Equal(number * chunkSize, chunk.GetProperty("offset").GetInt64());
            Assert.Equal(number < 5 ? chunkSize : size - (5 * chunkSize), chunk.GetProperty("size").GetInt64());
            var replicas = chunk.GetProperty("replicas").EnumerateArray().ToList();
            Assert.Equal(2, replicas.Count);
            Assert.Equal(2, replicas.Select(r => r.GetProperty("server_id").GetGuid()).Distinct().Count());
            foreach (var replica in replicas)
            {
                Assert.Equal("stored", replica.GetProperty("status").GetString());
                var name = replica.GetProperty("name").GetString()!;
                holders.Add(name);
                var node = fixture.Cluster.Nodes.Single(n => n.Name == name);
                var chunkId = chunk.GetProperty("chunk_id").GetString()!;
                var path = Path.Combine(node.DataDirectory, "chunks", chunkId[..2], chunkId[2..4], chunkId);
                Assert.True(File.Exists(path), $"chunk {number} is missing on {name}");
            }
        }

        output.WriteLine($"1 GiB file: chunks of {chunkSize} bytes on {holders.Count} nodes: {string.Join(", ", holders.Order())}");
        Assert.True(holders.Count >= 3, $"12 copies landed on only {holders.Count} nodes");

        var (sha256, length) = await DownloadHashAsync(Http, created.FileId, Cancel);
        Assert.Equal(size, length);
        Assert.Equal(expected, sha256);
        await Http.DeleteAsync($"/files/{created.FileId}", Cancel);
    }

    [Fact]
    public async Task A_file_over_the_limit_is_refused_with_413_before_its_body_is_read()
    {
        var body = new GeneratedContent((10L << 30) + 1, seed: 3);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/files?filename=huge.bin") { Content = body };
        request.Headers.ExpectContinue = true;

        using var response = await Http.SendAsync(request, Cancel);

        var problem = await ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, Cancel);
        Assert.Contains("10737418241", problem.GetProperty("detail").GetString());
        Assert.Equal(0, body.BytesServed);

        var form = new MultipartFormDataContent { { new GeneratedContent((10L << 30) + 2_000_000, seed: 3), "file", "huge.bin" } };
        using var formRequest = new HttpRequestMessage(HttpMethod.Post, "/files") { Content = form };
        formRequest.Headers.ExpectContinue = true;
        using var formResponse = await Http.SendAsync(formRequest, Cancel);
        await ProblemAsync(formResponse, HttpStatusCode.RequestEntityTooLarge, Cancel);
    }

    [Fact]
    public async Task Requests_that_cannot_be_stored_get_a_problem_naming_what_is_wrong()
    {
        // No Content-Type at all.
        using (var noType = await Http.PostAsync("/files?filename=x.bin", new ByteArrayContent([1, 2, 3]), Cancel))
        {
            var problem = await ProblemAsync(noType, HttpStatusCode.BadRequest, Cancel);
            Assert.Contains("Content-Type", problem.GetProperty("title").GetString());
        }

        // A raw body without ?filename=.
        using (var noName = await Http.PostAsync("/files", new ByteArrayContent([1, 2, 3]) { Headers = { ContentType = new MediaTypeHeaderValue("text/plain") } }, Cancel))
        {
            var problem = await ProblemAsync(noName, HttpStatusCode.BadRequest, Cancel);
            Assert.Contains("filename", problem.GetProperty("detail").GetString());
        }

        // A chunked body: its size is unknown.
        var chunked = new StreamContent(new MemoryStream(new byte[1000])) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/files?filename=c.bin") { Content = chunked })
        {
            request.Headers.TransferEncodingChunked = true;
            using var response = await Http.SendAsync(request, Cancel);
            await ProblemAsync(response, HttpStatusCode.LengthRequired, Cancel);
        }

        // Malformed multipart: a boundary that never appears, a form without a 'file' part,
        // and a file part that is not the last one.
        await AssertMultipartRefusedAsync("multipart/form-data", "garbage", "boundary");
        await AssertMultipartRefusedAsync("multipart/form-data; boundary=XYZ", "no delimiter here at all", "boundary");
        await AssertMultipartRefusedAsync(
            "multipart/form-data; boundary=XYZ",
            "--XYZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XYZ--\r\n",
            "no part named 'file'");
        await AssertMultipartRefusedAsync(
            "multipart/form-data; boundary=XYZ",
            "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc\r\n--XYZ\r\nContent-Disposition: form-data; name=\"late\"\r\n\r\nzzz\r\n--XYZ--\r\n",
            "last part");

        // Nothing of the refused uploads was kept as a completed file.
        using var list = await Http.GetAsync("/files?status=completed&per_page=1000", Cancel);
        var names = (await list.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("filename").GetString());
        Assert.DoesNotContain("a.txt", names);
    }

    [Fact]
    public async Task Unknown_and_malformed_ids_get_404_and_400()
    {
        var unknown = Guid.NewGuid();
        foreach (var path in new[] { $"/files/{unknown}", $"/files/{unknown}/metadata" })
        {
            using var response = await Http.GetAsync(path, Cancel);
            var problem = await ProblemAsync(response, HttpStatusCode.NotFound, Cancel);
            Assert.Contains(unknown.ToString(), problem.GetProperty("detail").GetString());
        }

        using (var delete = await Http.DeleteAsync($"/files/{unknown}", Cancel))
        {
            await ProblemAsync(delete, HttpStatusCode.NotFound, Cancel);
        }

        foreach (var path in new[] { "/files/not-an-id", "/files/12345/metadata" })
        {
            using var response = await Http.GetAsync(path, Cancel);
            await ProblemAsync(response, HttpStatusCode.BadRequest, Cancel);
        }

        using var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/files/{unknown}"), Cancel);
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task Ten_files_are_listed_newest_first_page_by_page()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 10; i++)
        {
            ids.Add((await UploadRawAsync(Http, $"list-{i}.txt", Encoding.UTF8.GetBytes($"file number {i}"), Cancel)).FileId);
        }

        var seen = new List<Guid>();
        long? total = null;
        for (var page = 1; ; page++)
        {
            using var response = await Http.GetAsync($"/files?page={page}&per_page=3&status=completed", Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var list = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
            Assert.Equal(page, list.GetProperty("page").GetInt32());
            Assert.Equal(3, list.GetProperty("per_page").GetInt32());
            total ??= list.GetProperty("total").GetInt64();
            var items = list.GetProperty("items").EnumerateArray().ToList();
            Assert.True(items.Count <= 3);
            Assert.All(items, item => Assert.Equal("completed", item.GetProperty("status").GetString()));
            if (items.Count == 0)
            {
                break;
            }

            seen.AddRange(items.Select(item => item.GetProperty("file_id").GetGuid()));
        }

        Assert.Equal(total, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        // Ours, newest first (other tests' files may sit between them).
        Assert.Equal(Enumerable.Reverse(ids), seen.Where(ids.Contains));

        // The same walk by cursor: each page's next_cursor leads to the next, null on the last.
        var byCursor = new List<Guid>();
        string? cursor = null;
        do
        {
            var query = cursor is null ? "" : $"&cursor={cursor}";
            using var response = await Http.GetAsync($"/files?per_page=3&status=completed&total=exact{query}", Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var list = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
            Assert.Equal(cursor is null ? JsonValueKind.Number : JsonValueKind.Null, list.GetProperty("page").ValueKind);
            Assert.True(list.GetProperty("total_exact").GetBoolean());
            byCursor.AddRange(list.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("file_id").GetGuid()));
            cursor = list.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Reverse(ids), byCursor.Where(ids.Contains));
        Assert.Equal(byCursor.Count, byCursor.Distinct().Count());

        using (var first = await Http.GetAsync("/files?per_page=1", Cancel))
        {
            var validCursor = (await first.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("next_cursor").GetString();
            using var both = await Http.GetAsync($"/files?page=2&cursor={validCursor}", Cancel);
            await ProblemAsync(both, HttpStatusCode.BadRequest, Cancel);
        }

        foreach (var bad in new[] { "page=0", "per_page=0", "per_page=1001", "per_page=x", "status=done", "status=1", "cursor=abc", "total=maybe" })
        {
            using var response = await Http.GetAsync($"/files?{bad}", Cancel);
            await ProblemAsync(response, HttpStatusCode.BadRequest, Cancel);
        }
    }

    [Fact]
    public async Task Delete_removes_the_rows_and_the_chunk_files_on_the_nodes()
    {
        var created = await UploadRawAsync(Http, "doomed.bin", GeneratedContent.Bytes(3_000_000, seed: 4), Cancel);
        var metadata = await MetadataAsync(Http, created.FileId, Cancel);
        var paths = ChunkFiles(metadata).ToList();
        Assert.Equal(12, paths.Count);
        Assert.All(paths, path => Assert.True(File.Exists(path)));

        using var delete = await Http.DeleteAsync($"/files/{created.FileId}", Cancel);

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.All(paths, path => Assert.False(File.Exists(path), $"{path} is still on disk"));
        using var gone = await Http.GetAsync($"/files/{created.FileId}", Cancel);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        await using var connection = new NpgsqlConnection(fixture.Cluster.MetadataConnectionString);
        await connection.OpenAsync(Cancel);
        await using var count = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM files WHERE file_id = @id) + (SELECT count(*) FROM chunks WHERE file_id = @id) + (SELECT count(*) FROM upload_sessions WHERE file_id = @id)",
            connection);
        count.Parameters.AddWithValue("id", created.FileId);
        Assert.Equal(0L, await count.ExecuteScalarAsync(Cancel));
    }

    [Fact]
    public async Task Metadata_describes_status_progress_chunks_and_replicas()
    {
        var created = await UploadRawAsync(Http, "described.csv", GeneratedContent.Bytes(600_005, seed: 5), Cancel);

        var metadata = await MetadataAsync(Http, created.FileId, Cancel);

        Assert.Equal(created.FileId, metadata.GetProperty("file_id").GetGuid());
        Assert.Equal("described.csv", metadata.GetProperty("filename").GetString());
        Assert.Equal(600_005, metadata.GetProperty("size").GetInt64());
        Assert.Equal(100_001, metadata.GetProperty("chunk_size").GetInt64());
        Assert.Equal("completed", metadata.GetProperty("status").GetString());
        Assert.Equal(created.Sha256, metadata.GetProperty("sha256").GetString());
        Assert.NotEqual(JsonValueKind.Null, metadata.GetProperty("completed_at").ValueKind);
        var progress = metadata.GetProperty("progress");
        Assert.Equal(600_005, progress.GetProperty("bytes_received").GetInt64());
        Assert.Equal(100, progress.GetProperty("percent").GetDouble());
        var data = GeneratedContent.Bytes(600_005, seed: 5);
        foreach (var chunk in metadata.GetProperty("chunks").EnumerateArray())
        {
            var offset = (int)chunk.GetProperty("offset").GetInt64();
            var size = (int)chunk.GetProperty("size").GetInt64();
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data.AsSpan(offset, size))), chunk.GetProperty("sha256").GetString());
            Assert.Equal("completed", chunk.GetProperty("status").GetString());
            Assert.All(chunk.GetProperty("replicas").EnumerateArray(), replica =>
            {
                Assert.StartsWith("storage-", replica.GetProperty("name").GetString());
                Assert.StartsWith("http://127.0.0.1:", replica.GetProperty("address").GetString());
                Assert.True(replica.GetProperty("live").GetBoolean());
            });
        }
    }

    [Fact]
    public async Task Status_moves_from_pending_to_uploading_to_completed_during_a_slow_upload()
    {
        var filename = $"slow-{Guid.NewGuid():N}.bin";
        // 2 MiB in 128 pieces of 16 KiB, one every 25 ms, after a 1.5 s pause before the first byte.
        var content = new GeneratedContent(2 * 1024 * 1024, seed: 6, delayBeforeFirstByte: TimeSpan.FromMilliseconds(1500), delayPerPiece: TimeSpan.FromMilliseconds(25), pieceSize: 16 * 1024);
        var upload = UploadRawAsync(Http, filename, content, Cancel);

        var statuses = new List<string>();
        var progress = new List<long>();
        Guid? fileId = null;
        while (!upload.IsCompleted)
        {
            fileId ??= await FindByNameAsync(filename);
            if (fileId is { } id)
            {
                var metadata = await MetadataAsync(Http, id, Cancel);
                statuses.Add(metadata.GetProperty("status").GetString()!);
                progress.Add(metadata.GetProperty("progress").GetProperty("bytes_received").GetInt64());
            }

            await Task.Delay(50, Cancel);
        }

        var created = await upload;
        statuses.Add((await MetadataAsync(Http, created.FileId, Cancel)).GetProperty("status").GetString()!);
        var order = statuses.Distinct().ToList();
        output.WriteLine($"statuses seen: {string.Join(" -> ", order)}; bytes received seen: {string.Join(", ", progress.Distinct())}");
        Assert.Equal(["pending", "uploading", "completed"], order);
        Assert.True(progress.Distinct().Count(p => p > 0 && p < 2 * 1024 * 1024) >= 1, "progress was never seen between 0 and the full size");
        Assert.Equal(progress.Order(), progress);
    }

    [Fact]
    public async Task Range_requests_at_chunk_boundaries_return_exactly_the_bytes_asked_for()
    {
        var size = (6 * 1024 * 1024) + 5;
        var data = GeneratedContent.Bytes(size, seed: 7);
        var created = await UploadRawAsync(Http, "ranges.bin", data, Cancel);
        var c = (size + 5) / 6;

        foreach (var (header, from, to) in new (string, int, int)[]
        {
            ($"bytes=0-{c - 1}", 0, c - 1),
            ($"bytes={c - 1}-{c}", c - 1, c),
            ($"bytes={c - 10}-{(3 * c) + 10}", c - 10, (3 * c) + 10),
            ($"bytes={5 * c}-", 5 * c, size - 1),
            ("bytes=-10", size - 10, size - 1),
            ($"bytes={size - 1}-{size + 100}", size - 1, size - 1),
            ("bytes=0-0", 0, 0),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/files/{created.FileId}");
            request.Headers.TryAddWithoutValidation("Range", header);
            using var response = await Http.SendAsync(request, Cancel);
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal($"bytes {from}-{to}/{size}", response.Content.Headers.ContentRange?.ToString());
            Assert.Equal(to - from + 1, response.Content.Headers.ContentLength);
            Assert.Equal(data.AsSpan(from, to - from + 1).ToArray(), await response.Content.ReadAsByteArrayAsync(Cancel));
        }

        using (var unsatisfiable = new HttpRequestMessage(HttpMethod.Get, $"/files/{created.FileId}"))
        {
            unsatisfiable.Headers.TryAddWithoutValidation("Range", $"bytes={size}-");
            using var response = await Http.SendAsync(unsatisfiable, Cancel);
            Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
            Assert.Equal($"bytes */{size}", response.Content.Headers.ContentRange?.ToString());
        }

        using (var several = new HttpRequestMessage(HttpMethod.Get, $"/files/{created.FileId}"))
        {
            several.Headers.TryAddWithoutValidation("Range", "bytes=0-1,5-6");
            using var response = await Http.SendAsync(several, Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(size, (await response.Content.ReadAsByteArrayAsync(Cancel)).Length);
        }

        using (var head = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/files/{created.FileId}"), Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(size, head.Content.Headers.ContentLength);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync(Cancel));
        }

        using var conditional = new HttpRequestMessage(HttpMethod.Get, $"/files/{created.FileId}");
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{created.Sha256}\""));
        using var notModified = await Http.SendAsync(conditional, Cancel);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task Conditional_requests_answer_304_412_and_If_Range_by_the_ETag_and_Last_Modified()
    {
        var data = GeneratedContent.Bytes(100_000, seed: 17);
        var created = await UploadRawAsync(Http, "conditional.bin", data, Cancel);
        var etag = $"\"{created.Sha256}\"";
        DateTimeOffset lastModified;
        using (var plain = await Http.GetAsync($"/files/{created.FileId}", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
            Assert.Equal(etag, plain.Headers.ETag?.Tag);
            lastModified = plain.Content.Headers.LastModified ?? throw new InvalidOperationException("no Last-Modified");
        }

        async Task<HttpResponseMessage> GetAsync(Action<HttpRequestHeaders> conditions, HttpMethod? method = null)
        {
            using var request = new HttpRequestMessage(method ?? HttpMethod.Get, $"/files/{created.FileId}");
            conditions(request.Headers);
            return await Http.SendAsync(request, Cancel);
        }

        // If-None-Match and If-Modified-Since: a cache that holds the file gets 304 and no body.
        foreach (var (name, conditions, method) in new (string, Action<HttpRequestHeaders>, HttpMethod)[]
        {
            ("If-None-Match", h => h.IfNoneMatch.Add(new EntityTagHeaderValue(etag)), HttpMethod.Get),
            ("If-None-Match: *", h => h.TryAddWithoutValidation("If-None-Match", "*"), HttpMethod.Get),
            ("If-Modified-Since", h => h.IfModifiedSince = lastModified, HttpMethod.Get),
            ("HEAD If-None-Match", h => h.IfNoneMatch.Add(new EntityTagHeaderValue(etag)), HttpMethod.Head),
        })
        {
            using var response = await GetAsync(conditions, method);
            Assert.True(response.StatusCode == HttpStatusCode.NotModified, $"{name}: {(int)response.StatusCode}");
            Assert.Empty(await response.Content.ReadAsByteArrayAsync(Cancel));
            Assert.Equal(etag, response.Headers.ETag?.Tag);
        }

        // A precondition the file fails: 412 with problem details, none of the file's bytes.
        foreach (var (name, conditions) in new (string, Action<HttpRequestHeaders>)[]
        {
            ("If-Match", h => h.IfMatch.Add(new EntityTagHeaderValue("\"another-version\""))),
            ("If-Unmodified-Since", h => h.IfUnmodifiedSince = lastModified.AddHours(-1)),
        })
        {
            using var response = await GetAsync(conditions);
            Assert.True(response.StatusCode == HttpStatusCode.PreconditionFailed, $"{name}: {(int)response.StatusCode}");
            await ProblemAsync(response, HttpStatusCode.PreconditionFailed, Cancel);
        }

        // Preconditions the file meets, and a changed validator: the whole file.
        foreach (var (name, conditions) in new (string, Action<HttpRequestHeaders>)[]
        {
            ("If-Match", h => h.IfMatch.Add(new EntityTagHeaderValue(etag))),
            ("If-Unmodified-Since", h => h.IfUnmodifiedSince = lastModified),
            ("If-None-Match another", h => h.IfNoneMatch.Add(new EntityTagHeaderValue("\"another-version\""))),
            ("If-Modified-Since earlier", h => h.IfModifiedSince = lastModified.AddHours(-1)),
        })
        {
            using var response = await GetAsync(conditions);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{name}: {(int)response.StatusCode}");
            Assert.Equal(data, await response.Content.ReadAsByteArrayAsync(Cancel));
        }

        // If-Range: the range while the client's copy is current, the whole file once it is not.
        using (var current = await GetAsync(h =>
        {
            h.Range = new RangeHeaderValue(1000, 1999);
            h.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue(etag));
        }))
        {
            Assert.Equal(HttpStatusCode.PartialContent, current.StatusCode);
            Assert.Equal(data.AsSpan(1000, 1000).ToArray(), await current.Content.ReadAsByteArrayAsync(Cancel));
        }

        using (var stale = await GetAsync(h =>
        {
            h.Range = new RangeHeaderValue(1000, 1999);
            h.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue("\"another-version\""));
        }))
        {
            Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
            Assert.Equal(data, await stale.Content.ReadAsByteArrayAsync(Cancel));
        }
    }

    [Fact]
    public async Task Empty_and_tiny_files_are_stored_and_read_back()
    {
        foreach (var size in new[] { 0, 1, 5, 6, 7 })
        {
            var data = GeneratedContent.Bytes(size, seed: 100 + size);
            var created = await UploadRawAsync(Http, $"tiny-{size}.bin", data, Cancel);
            Assert.Equal(size, created.Size);
            Assert.Equal(data, await DownloadAsync(Http, created.FileId, Cancel));
        }
    }

    [Fact]
    public async Task A_file_still_uploading_cannot_be_read_or_deleted_yet()
    {
        var filename = $"unfinished-{Guid.NewGuid():N}.bin";
        var upload = UploadRawAsync(Http, filename, new GeneratedContent(1024 * 1024, seed: 8, delayPerPiece: TimeSpan.FromMilliseconds(150), pieceSize: 64 * 1024), Cancel);
        Guid? fileId = null;
        while (fileId is null)
        {
            fileId = await FindByNameAsync(filename);
            await Task.Delay(50, Cancel);
        }

        using (var read = await Http.GetAsync($"/files/{fileId}", Cancel))
        {
            var problem = await ProblemAsync(read, HttpStatusCode.Conflict, Cancel);
            Assert.Contains("only completed files can be read", problem.GetProperty("detail").GetString());
        }

        using (var delete = await Http.DeleteAsync($"/files/{fileId}", Cancel))
        {
            await ProblemAsync(delete, HttpStatusCode.Conflict, Cancel);
        }

        await upload;
    }

    private async Task AssertMultipartRefusedAsync(string contentType, string body, string detailContains)
    {
        var content = new ByteArrayContent(Encoding.ASCII.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var response = await Http.PostAsync("/files", content, Cancel);
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest, Cancel);
        Assert.Contains(detailContains, problem.GetProperty("detail").GetString());
    }

    private async Task<Guid?> FindByNameAsync(string filename)
    {
        using var response = await Http.GetAsync("/files?per_page=50", Cancel);
        var list = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        return list.GetProperty("items").EnumerateArray()
            .Where(i => i.GetProperty("filename").GetString() == filename)
            .Select(i => (Guid?)i.GetProperty("file_id").GetGuid())
            .FirstOrDefault();
    }

    private IEnumerable<string> ChunkFiles(JsonElement metadata)
    {
        foreach (var chunk in metadata.GetProperty("chunks").EnumerateArray())
        {
            var chunkId = chunk.GetProperty("chunk_id").GetString()!;
            foreach (var replica in chunk.GetProperty("replicas").EnumerateArray())
            {
                var node = fixture.Cluster.Nodes.Single(n => n.Name == replica.GetProperty("name").GetString());
                yield return Path.Combine(node.DataDirectory, "chunks", chunkId[..2], chunkId[2..4], chunkId);
            }
        }
    }
}
