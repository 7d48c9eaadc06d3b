using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using static S3Storage.Tests.Cluster.FileClient;

namespace S3Storage.Tests.Cluster;

/// <summary>A cluster of its own, with a durable PostgreSQL: it is crashed and started again under load.</summary>
public sealed class DatabaseOutageClusterFixture : ClusterFixture
{
    protected override int NodeCount => 3;

    public override bool DurablePostgres => true;
}

/// <summary>The database or the nodes going away and coming back: clear answers (503, Retry-After), nothing acknowledged lost.</summary>
public sealed class DatabaseOutageTests(DatabaseOutageClusterFixture fixture, ITestOutputHelper output) : IClassFixture<DatabaseOutageClusterFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_database_crash_under_load_gives_503s_with_Retry_After_never_a_500_and_loses_no_acknowledged_file()
    {
        var before = await UploadRawAsync(Http, "before-the-crash.bin", GeneratedContent.Bytes(300_000, seed: 90), Cancel);

        // Four clients upload small files without pause through the crash and the restart.
        using var stopLoad = new CancellationTokenSource();
        var acknowledged = new ConcurrentBag<(CreatedFile File, byte[] Data)>();
        var statuses = new ConcurrentDictionary<HttpStatusCode, int>();
        var load = Enumerable.Range(0, 4).Select(client => Task.Run(async () =>
        {
            for (var i = 0; !stopLoad.IsCancellationRequested; i++)
            {
                var data = RandomNumberGenerator.GetBytes(50_000 + i);
                using var content = new ByteArrayContent(data) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };
                using var response = await Http.PostAsync($"/files?filename=load-{client}-{i}.bin", content, Cancel);
                statuses.AddOrUpdate(response.StatusCode, 1, (_, n) => n + 1);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    acknowledged.Add((await response.Content.ReadFromJsonAsync<CreatedFile>(Cancel) ?? throw new InvalidOperationException("no body"), data));
                }
                else
                {
                    await AssertUnavailableAsync(response);
                    await Task.Delay(200, Cancel);
                }
            }
        })).ToList();
        await Task.Delay(TimeSpan.FromSeconds(2), Cancel);

        await fixture.Cluster.Postgres.CrashAsync(Cancel);
        var crashed = Stopwatch.StartNew();
        try
        {
            // Reads answer 503 within the retries' bound, not after minutes.
            using (var read = await Http.GetAsync($"/files/{before.FileId}/metadata", Cancel))
            {
                output.WriteLine($"a metadata read answered {(int)read.StatusCode} {crashed.Elapsed.TotalSeconds:F1} s after the crash");
                Assert.Equal("The metadata database is unavailable", (await AssertUnavailableAsync(read)).GetProperty("title").GetString());
                Assert.True(crashed.Elapsed < TimeSpan.FromSeconds(30), $"the read took {crashed.Elapsed.TotalSeconds:F0} s to answer");
            }

            using var health = await Http.GetAsync("/health", Cancel);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            var report = await health.Content.ReadFromJsonAsync<JsonElement>(Cancel);
            Assert.Equal("unhealthy", report.GetProperty("database").GetProperty("status").GetString());

            await Task.Delay(TimeSpan.FromSeconds(3), Cancel);
        }
        finally
        {
            await fixture.Cluster.Postgres.StartAgainAsync(fixture.DurablePostgres, CancellationToken.None);
        }

        output.WriteLine($"PostgreSQL was down {crashed.Elapsed.TotalSeconds:F1} s");

        // Back: reads and uploads work again within seconds.
        var back = Stopwatch.StartNew();
        while (true)
        {
            using var read = await Http.GetAsync($"/files/{before.FileId}/metadata", Cancel);
            if (read.StatusCode == HttpStatusCode.OK)
            {
                break;
            }

            await AssertUnavailableAsync(read);
            Assert.True(back.Elapsed < TimeSpan.FromSeconds(60), "the gateway did not serve again within 60 s of the restart");
            await Task.Delay(500, Cancel);
        }

        var acknowledgedBefore = acknowledged.Count;
        while (acknowledged.Count < acknowledgedBefore + 4 && back.Elapsed < TimeSpan.FromSeconds(90))
        {
            await Task.Delay(250, Cancel);
        }

        await stopLoad.CancelAsync();
        await Task.WhenAll(load);
        output.WriteLine($"answers under load: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{(int)s.Key} x{s.Value}"))}");
        Assert.True(acknowledged.Count > acknowledgedBefore, "no upload succeeded after the restart");
        Assert.DoesNotContain(HttpStatusCode.InternalServerError, statuses.Keys);

        // Every file the store acknowledged, before, during or after, comes back whole.
        Assert.Equal(GeneratedContent.Bytes(300_000, seed: 90), await DownloadAsync(Http, before.FileId, Cancel));
        foreach (var (file, data) in acknowledged)
        {
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), file.Sha256);
            Assert.Equal(data, await DownloadAsync(Http, file.FileId, Cancel));
        }
    }

    /// <summary>The live nodes /health counts (none while the database is down; a full test run failed here when the wait read a 503 as an error).</summary>
    private async Task<int> LiveNodesAsync()
    {
        var live = (await HealthAsync(Http, Cancel)).GetProperty("storage_servers").GetProperty("live");
        return live.ValueKind == JsonValueKind.Number ? live.GetInt32() : 0;
    }

    [Fact]
    public async Task With_both_copies_of_a_chunk_down_a_download_and_an_upload_answer_503_with_Retry_After()
    {
        // The class's other test may have just restarted PostgreSQL: start from a whole cluster.
        var waited = Stopwatch.StartNew();
        while (await LiveNodesAsync() < 3)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(90), "the three nodes were not live again within 90 s");
            await Task.Delay(250, Cancel);
        }

        output.WriteLine($"all three nodes live after {waited.Elapsed.TotalSeconds:F1} s");
        var stored = await UploadRawAsync(Http, "both-copies-down.bin", GeneratedContent.Bytes(600_000, seed: 91), Cancel);
        var metadata = await MetadataAsync(Http, stored.FileId, Cancel);
        var holders = metadata.GetProperty("chunks")[0].GetProperty("replicas").EnumerateArray()
            .Select(replica => fixture.Cluster.Nodes.Single(node => node.Name == replica.GetProperty("name").GetString()))
            .ToList();
        Assert.Equal(2, holders.Count);

        foreach (var holder in holders)
        {
            await holder.Process.KillAsync();
        }

        try
        {
            // No byte before a readable copy is found: a clear 503, not a 200 that dies.
            using (var download = await Http.GetAsync($"/files/{stored.FileId}", Cancel))
            {
                await AssertUnavailableAsync(download);
            }

            // One node of three left, two copies needed: once the gateway sees the others gone,
            // uploads are refused before any byte is read.
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                using var content = new ByteArrayContent([1, 2, 3]) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };
                using var upload = await Http.PostAsync("/files?filename=nowhere.bin", content, Cancel);
                Assert.NotEqual(HttpStatusCode.Created, upload.StatusCode);
                if ((await AssertUnavailableAsync(upload)).GetProperty("title").GetString() == "Not enough storage nodes are available")
                {
                    break;
                }

                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the gateway never refused uploads for want of nodes");
            }
        }
        finally
        {
            foreach (var holder in holders)
            {
                await fixture.Cluster.RestartNodeAsync(holder, CancellationToken.None);
            }
        }

        Assert.Equal(GeneratedContent.Bytes(600_000, seed: 91), await DownloadAsync(Http, stored.FileId, Cancel));
    }

    /// <summary>
    /// What a client may get while the database is away or the nodes are not yet seen live again:
    /// 503 with problem details and Retry-After.
    /// </summary>
    private static async Task<JsonElement> AssertUnavailableAsync(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Cancel)}");
        Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
        return await ProblemAsync(response, HttpStatusCode.ServiceUnavailable, Cancel);
    }
}
