using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Npgsql;
using static S3Storage.Tests.Cluster.FileClient;

namespace S3Storage.Tests.Cluster;

/// <summary>Many clients at once: every byte checked, no errors, no upload session left open.</summary>
[Collection(SharedClusterCollection.Name)]
public sealed class ConcurrencyTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Fifty_parallel_uploads_then_a_hundred_parallel_downloads_all_return_the_exact_bytes()
    {
        var uploads = Enumerable.Range(0, 50).Select(async i =>
        {
            var data = GeneratedContent.Bytes(64 * 1024 + (i * 20_011), seed: 1000 + i);
            var created = i % 2 == 0
                ? await UploadRawAsync(Http, $"parallel-{i}.bin", data, Cancel)
                : await UploadMultipartAsync(Http, $"parallel-{i}.bin", new ByteArrayContent(data), Cancel);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), created.Sha256);
            return (created, data);
        });
        var stored = await Task.WhenAll(uploads);

        var downloads = Enumerable.Range(0, 100).Select(async i =>
        {
            var (created, data) = stored[i % stored.Length];
            Assert.Equal(data, await DownloadAsync(Http, created.FileId, Cancel));
        });
        await Task.WhenAll(downloads);

        await AssertNoOpenSessionsAsync();
    }

    [Fact]
    public async Task Uploads_downloads_deletes_and_lists_mixed_together_never_fail()
    {
        var seeds = Enumerable.Range(0, 12).ToList();
        var kept = new System.Collections.Concurrent.ConcurrentBag<(Guid Id, byte[] Data)>();
        var operations = seeds.Select(async seed =>
        {
            var data = GeneratedContent.Bytes(200_000 + seed, seed: 2000 + seed);
            var created = await UploadRawAsync(Http, $"mixed-{seed}.bin", data, Cancel);
            using (var list = await Http.GetAsync("/files?per_page=5", Cancel))
            {
                Assert.Equal(HttpStatusCode.OK, list.StatusCode);
                Assert.True((await list.Content.ReadFromJsonAsync<JsonElement>(Cancel)).GetProperty("total").GetInt64() >= 1);
            }

            Assert.Equal(data, await DownloadAsync(Http, created.FileId, Cancel));
            if (seed % 3 == 0)
            {
                using var delete = await Http.DeleteAsync($"/files/{created.FileId}", Cancel);
                Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
                using var gone = await Http.GetAsync($"/files/{created.FileId}", Cancel);
                Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
            }
            else
            {
                kept.Add((created.FileId, data));
            }
        });
        await Task.WhenAll(operations);

        output.WriteLine($"{kept.Count} files kept, {seeds.Count - kept.Count} deleted");
        foreach (var (id, data) in kept)
        {
            Assert.Equal(data, await DownloadAsync(Http, id, Cancel));
        }

        await AssertNoOpenSessionsAsync();
    }

    private async Task AssertNoOpenSessionsAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.Cluster.MetadataConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM upload_sessions WHERE status = 'active') + (SELECT count(*) FROM files WHERE upload_status IN ('pending', 'uploading'))",
            connection);
        Assert.Equal(0L, await command.ExecuteScalarAsync(Cancel));
    }
}
