using System.Net.Http.Json;
using System.Text.Json;
using static S3Storage.Tests.Cluster.FileClient;

namespace S3Storage.Tests.Cluster;

/// <summary>Four nodes and a gateway with background repair every second; the test starts a second gateway on the same database.</summary>
public sealed class TwoGatewayClusterFixture : ClusterFixture
{
    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Repair__Enabled"] = "true",
        ["Repair__Interval"] = "00:00:01",
        ["Repair__BytesPerSecond"] = "0",
        // Only repair moves copies here, so its count is the whole story.
        ["Repair__Rebalance"] = "false",
    };

    protected override int NodeCount => 4;

    protected override IReadOnlyDictionary<string, string?> GatewayOverrides => Settings;
}

/// <summary>Gateways scale out: any number serve requests against one database, and maintenance runs on one of them at a time.</summary>
public sealed class MultiGatewayTests(TwoGatewayClusterFixture fixture, ITestOutputHelper output) : IClassFixture<TwoGatewayClusterFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_gateways_serve_the_same_files_and_a_dead_node_is_repaired_once_with_nothing_lost()
    {
        await using var second = await fixture.Cluster.StartAnotherGatewayAsync("gateway-2", TwoGatewayClusterFixture.Settings, Cancel);
        var gateways = new[] { fixture.Http, second.Http };

        // Uploads through both at once; each file read back through the other gateway.
        var uploads = Enumerable.Range(0, 8).Select(async i =>
        {
            var data = GeneratedContent.Bytes(1_000_000 + (i * 77_777), seed: 300 + i);
            var created = await UploadRawAsync(gateways[i % 2], $"two-gateways-{i}.bin", data, Cancel);
            return (Created: created, Data: data, Through: i % 2);
        }).ToList();
        var files = (await Task.WhenAll(uploads)).ToList();
        foreach (var (created, data, through) in files)
        {
            Assert.Equal(data, await DownloadAsync(gateways[1 - through], created.FileId, Cancel));
        }

        var victim = fixture.Cluster.Nodes[1];
        var lost = 0;
        foreach (var (created, _, _) in files)
        {
            lost += Copies(await MetadataAsync(fixture.Http, created.FileId, Cancel)).Count(c => c.Node == victim.Name);
        }

        Assert.True(lost > 0, $"no chunk had a copy on {victim.Name}");
        await victim.Process.KillAsync();
        try
        {
            // Both gateways keep taking uploads while the node is gone and repair runs.
            for (var i = 0; i < 2; i++)
            {
                var data = GeneratedContent.Bytes(500_000, seed: 400 + i);
                files.Add((await UploadRawAsync(gateways[i], $"after-the-kill-{i}.bin", data, Cancel), data, i));
            }

            // Until the gateway's liveness window has passed, the dead node's copies still count
            // as live, and the wait below would end at once (a CI run saw 0 copies repaired).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            async Task<bool> VictimCountsAsLiveAsync()
            {
                foreach (var (created, _, _) in files)
                {
                    if (Copies(await MetadataAsync(second.Http, created.FileId, Cancel)).Any(c => c.Node == victim.Name && c.Live))
                    {
                        return true;
                    }
                }

                return false;
            }

            while (await VictimCountsAsLiveAsync())
            {
                Assert.True(DateTime.UtcNow < deadline, $"{victim.Name} still counted as live 90 s after it was killed");
                await Task.Delay(250, Cancel);
            }

            // Background repair (every second, on whichever gateway holds the lock) restores
            // two copies on live nodes for every chunk.
            while (true)
            {
                var short_ = 0;
                foreach (var (created, _, _) in files)
                {
                    short_ += Copies(await MetadataAsync(second.Http, created.FileId, Cancel))
                        .Where(c => c.Live && c.Status == "stored")
                        .GroupBy(c => c.Chunk)
                        .Count(chunk => chunk.Count() < 2);
                }

                if (short_ == 0)
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, $"{short_} chunks still lack a copy 90 s after {victim.Name} died");
                await Task.Delay(500, Cancel);
            }

            // Let a few more passes run on either gateway: they must find nothing left to do.
            await Task.Delay(TimeSpan.FromSeconds(3), Cancel);
            var statuses = new List<JsonElement>();
            foreach (var gateway in gateways)
            {
                statuses.Add(await gateway.GetFromJsonAsync<JsonElement>("/admin/repair", Cancel));
            }

            var passes = statuses.Select(s => s.GetProperty("passes_run").GetInt64()).ToList();
            var repaired = statuses.Select(s => s.GetProperty("copies_repaired").GetInt64()).ToList();
            output.WriteLine($"{victim.Name} held {lost} copies; passes run per gateway: {string.Join(", ", passes)}; copies repaired per gateway: {string.Join(", ", repaired)}");

            // Each lost copy was made again exactly once, whichever gateway made it, and no chunk has a copy too many.
            Assert.Equal(lost, repaired.Sum());
            foreach (var (created, data, through) in files)
            {
                var copies = Copies(await MetadataAsync(fixture.Http, created.FileId, Cancel));
                Assert.All(copies.Where(c => c.Live && c.Status == "stored").GroupBy(c => c.Chunk), chunk => Assert.Equal(2, chunk.Count()));
                Assert.Equal(data, await DownloadAsync(gateways[1 - through], created.FileId, Cancel));
            }
        }
        finally
        {
            await fixture.Cluster.RestartNodeAsync(victim, Cancel);
        }
    }

    [Fact]
    public async Task A_quiet_cluster_runs_no_repair_pass_until_a_node_changes()
    {
        await WaitForQuietAsync();

        // A node that goes silent changes the cluster: a pass runs within a few ticks of the
        // gateway seeing it down.
        var victim = fixture.Cluster.Nodes[2];
        var passes = await PassesRunAsync();
        victim.Process.Signal(S3Storage.DevCluster.Processes.PosixSignals.Stop);
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (await PassesRunAsync() == passes)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no repair pass ran in the 30 s after {victim.Name} went silent");
                await Task.Delay(250, Cancel);
            }

            output.WriteLine($"passes before {victim.Name} went silent: {passes}; a pass ran after it");
        }
        finally
        {
            victim.Process.Signal(S3Storage.DevCluster.Processes.PosixSignals.Continue);
        }
    }

    [Fact]
    public async Task A_corrupt_copy_found_by_a_download_makes_a_quiet_cluster_repair_it()
    {
        var data = GeneratedContent.Bytes(2_000_000, 500);
        var created = await UploadRawAsync(fixture.Http, "rot-in-a-quiet-cluster.bin", data, Cancel);
        await WaitForQuietAsync();

        var chunk = (await MetadataAsync(fixture.Http, created.FileId, Cancel)).GetProperty("chunks")[0];
        var chunkId = Guid.Parse(chunk.GetProperty("chunk_id").GetString()!);
        // The copy downloads read first: the gateway orders live copies by this hash (FileCatalog.ReadPlan).
        var first = chunk.GetProperty("replicas").EnumerateArray()
            .OrderBy(r => S3Storage.Gateway.Files.FileCatalog.ReadPreference(chunkId, r.GetProperty("server_id").GetGuid()))
            .First()
            .GetProperty("name").GetString();
        var node = fixture.Cluster.Nodes.Single(n => n.Name == first);
        StorageNode.ChunkTransfers.FlipByteOnDisk(StorageNode.ChunkTransfers.ChunkPath(node.DataDirectory, chunkId.ToString()), 1234);
        var passes = await PassesRunAsync();

        Assert.Equal(data, await DownloadAsync(fixture.Http, created.FileId, Cancel));

        // Nothing else changed and the quiet interval is an hour: only the download's finding
        // can make a pass run, and that pass writes the copy back.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Copies(await MetadataAsync(fixture.Http, created.FileId, Cancel)).Single(c => c.Chunk == 0 && c.Node == node.Name).Status != "stored"
            || await PassesRunAsync() == passes)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the corrupt copy of chunk 0 on {node.Name} was not repaired in the 30 s after a download found it");
            await Task.Delay(250, Cancel);
        }

        var (_, fromNode) = await StorageNode.ChunkTransfers.GetAsync(node.Client, chunkId.ToString(), Cancel);
        Assert.Equal(data.AsSpan(0, fromNode.Length).ToArray(), fromNode);
    }

    /// <summary>
    /// Repair ticks every second here, and its quiet interval is the default hour. Whatever an
    /// earlier test left (a node restarting, copies to confirm), passes must stop.
    /// </summary>
    private async Task WaitForQuietAsync()
    {
        for (var attempt = 0; attempt < 12; attempt++)
        {
            var before = await PassesRunAsync();
            await Task.Delay(TimeSpan.FromSeconds(5), Cancel);
            if (before > 0 && await PassesRunAsync() == before)
            {
                return;
            }
        }

        Assert.Fail("repair kept running passes every second in a cluster where nothing changed");
    }

    private async Task<long> PassesRunAsync() =>
        (await fixture.Http.GetFromJsonAsync<JsonElement>("/admin/repair", Cancel)).GetProperty("passes_run").GetInt64();

    private static IEnumerable<(int Chunk, string? Node, string? Status, bool Live)> Copies(JsonElement metadata) =>
        metadata.GetProperty("chunks").EnumerateArray().SelectMany(chunk => chunk.GetProperty("replicas").EnumerateArray().Select(r => (
            chunk.GetProperty("chunk_number").GetInt32(),
            r.GetProperty("name").GetString(),
            r.GetProperty("status").GetString(),
            r.GetProperty("live").GetBoolean()))).ToList();
}
