using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using S3Storage.Gateway.Files;
using S3Storage.DevCluster.Processes;
using static S3Storage.Tests.Cluster.FileClient;

namespace S3Storage.Tests.Cluster;

/// <summary>Nodes killed with SIGKILL around downloads: with two copies of every chunk, the client sees the exact bytes anyway.</summary>
public sealed class NodeFailureTests(ClusterFixture fixture, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_node_killed_before_a_download_costs_the_client_nothing()
    {
        const long size = 100L * 1024 * 1024;
        var created = await UploadRawAsync(Http, "before.bin", new GeneratedContent(size, seed: 11), Cancel);
        var victim = Holder(await MetadataAsync(Http, created.FileId, Cancel), chunk: 0);

        await victim.Process.KillAsync();
        try
        {
            var (sha256, length) = await DownloadHashAsync(Http, created.FileId, Cancel);
            Assert.Equal(size, length);
            Assert.Equal(created.Sha256, sha256);
        }
        finally
        {
            await fixture.Cluster.RestartNodeAsync(victim, Cancel);
        }
    }

    [Fact]
    public async Task A_node_killed_during_a_download_costs_the_client_nothing()
    {
        const long size = 100L * 1024 * 1024;
        var created = await UploadRawAsync(Http, "during.bin", new GeneratedContent(size, seed: 12), Cancel);
        var metadata = await MetadataAsync(Http, created.FileId, Cancel);
        // A holder of the second chunk: killed while the first is being sent, it fails
        // the prefetched read of chunk 1 or the one in flight.
        var victim = Holder(metadata, chunk: 1);
        var killed = false;

        try
        {
            var (sha256, length) = await DownloadHashAsync(Http, created.FileId, Cancel, async received =>
            {
                if (!killed && received >= 8 * 1024 * 1024)
                {
                    killed = true;
                    await victim.Process.KillAsync();
                    output.WriteLine($"killed {victim.Name} after {received} bytes");
                }
            });

            Assert.True(killed);
            Assert.Equal(size, length);
            Assert.Equal(created.Sha256, sha256);
        }
        finally
        {
            await fixture.Cluster.RestartNodeAsync(victim, Cancel);
        }
    }

    [Fact]
    public async Task A_range_across_a_chunk_boundary_resumes_at_the_exact_offset_when_the_node_being_read_dies()
    {
        const int chunkSize = 40 * 1024 * 1024;
        var data = GeneratedContent.Bytes(6 * chunkSize, seed: 13);
        var created = await UploadRawAsync(Http, "range-failover.bin", data, Cancel);
        var metadata = await MetadataAsync(Http, created.FileId, Cancel);
        // The copy of chunk 1 the gateway reads first (FileCatalog.ReadPlan orders copies this way).
        var chunk = metadata.GetProperty("chunks")[1];
        var chunkId = chunk.GetProperty("chunk_id").GetGuid();
        var firstName = chunk.GetProperty("replicas").EnumerateArray()
            .OrderBy(r => FileCatalog.ReadPreference(chunkId, r.GetProperty("server_id").GetGuid()))
            .First().GetProperty("name").GetString();
        var victim = fixture.Cluster.Nodes.Single(n => n.Name == firstName);
        const int from = chunkSize - (10 * 1024 * 1024);
        const int to = (2 * chunkSize) + (10 * 1024 * 1024);
        // 2 MiB into chunk 1; the client then reads slowly, so the gateway cannot have buffered
        // the rest of the chunk (a gRPC stream window is at most 16 MiB) before the kill.
        const int killAfter = (10 + 2) * 1024 * 1024;

        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/files/{created.FileId}");
            request.Headers.Range = new RangeHeaderValue(from, to);
            using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel);
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync(Cancel);
            var received = new MemoryStream();
            var buffer = new byte[256 * 1024];
            var killed = false;
            int read;
            while ((read = await body.ReadAsync(buffer, Cancel)) > 0)
            {
                received.Write(buffer, 0, read);
                if (!killed && received.Length >= killAfter)
                {
                    killed = true;
                    await victim.Process.KillAsync();
                    output.WriteLine($"killed {victim.Name} after {received.Length} bytes of the range");
                    await Task.Delay(500, Cancel);
                }
            }

            Assert.True(killed);
            Assert.Equal(to - from + 1, received.Length);
            Assert.True(data.AsSpan(from, to - from + 1).SequenceEqual(received.ToArray()), "the range came back with different bytes");

            // The gateway's own account: chunk 1 failed over from the victim part-way through.
            var log = await ReadSharedAsync(Path.Combine(fixture.Cluster.LogDirectory, "gateway.log"), Cancel);
            var prefix = $"Reading chunk 1 from {victim.Name} failed at offset ";
            var offsets = log.Split('\n')
                .Select(line => line.IndexOf(prefix, StringComparison.Ordinal) is var at and >= 0 ? line[(at + prefix.Length)..].Split(';')[0].Trim() : null)
                .OfType<string>()
                .Select(long.Parse)
                .ToList();
            output.WriteLine($"chunk 1 failed over from {victim.Name} at offsets {string.Join(", ", offsets)}");
            Assert.Contains(offsets, offset => offset > 0 && offset < chunkSize);
        }
        finally
        {
            await fixture.Cluster.RestartNodeAsync(victim, Cancel);
        }
    }

    [Fact]
    public async Task Every_node_killed_in_turn_leaves_every_file_readable()
    {
        var files = new List<CreatedFile>();
        for (var i = 0; i < 3; i++)
        {
            files.Add(await UploadRawAsync(Http, $"turn-{i}.bin", new GeneratedContent(3 * 1024 * 1024 + i, seed: 20 + i), Cancel));
        }

        foreach (var node in fixture.Cluster.Nodes.ToList())
        {
            await node.Process.KillAsync();
            try
            {
                foreach (var file in files)
                {
                    var (sha256, _) = await DownloadHashAsync(Http, file.FileId, Cancel);
                    Assert.Equal(file.Sha256, sha256);
                }
            }
            finally
            {
                await fixture.Cluster.RestartNodeAsync(node, Cancel);
            }
        }
    }

    private StorageNodeProcess Holder(JsonElement metadata, int chunk)
    {
        var name = metadata.GetProperty("chunks")[chunk].GetProperty("replicas")[0].GetProperty("name").GetString();
        return fixture.Cluster.Nodes.Single(n => n.Name == name);
    }
}
