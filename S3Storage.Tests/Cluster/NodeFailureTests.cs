using System.Text.Json;
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
