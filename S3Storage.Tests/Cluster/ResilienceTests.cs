using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using S3Storage.Contracts.Storage;
using S3Storage.DevCluster.Processes;
using S3Storage.Contracts.Placement;
using static S3Storage.Tests.Cluster.FileClient;

namespace S3Storage.Tests.Cluster;

/// <summary>
/// Nothing lost: interrupted uploads, stalled and killed nodes, membership changes, repair and
/// garbage collection, on real processes. Each test leaves every node running again.
/// </summary>
public sealed class ResilienceTests(ResilienceClusterFixture fixture, ITestOutputHelper output) : IClassFixture<ResilienceClusterFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_client_that_disconnects_mid_upload_leaves_no_file_and_no_chunks()
    {
        var filename = $"abandoned-{Guid.NewGuid():N}.bin";
        var content = new GeneratedContent(30L * 1024 * 1024, seed: 41, delayPerPiece: TimeSpan.FromMilliseconds(10));
        using var disconnect = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var upload = UploadRawAsync(Http, filename, content, disconnect.Token);
        var fileId = await WaitForFileAsync(filename);
        await WaitUntilAsync(() => Task.FromResult(content.BytesServed >= 8L * 1024 * 1024), "8 MiB sent");
        var chunkIds = await ChunkIdsAsync(fileId);

        disconnect.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => upload);

        await WaitUntilAsync(async () => await StatusAsync(fileId) == "failed", "the upload to be marked failed");
        await WaitUntilAsync(() => Task.FromResult(NoChunkFiles(chunkIds) && NoTempFiles(chunkIds)), "its chunks and temporary files to be gone from every node", describe: () => Leftovers(chunkIds));
        using var read = await Http.GetAsync($"/files/{fileId}", Cancel);
        Assert.Equal(HttpStatusCode.Conflict, read.StatusCode);
    }

    [Fact]
    public async Task A_gateway_killed_mid_upload_leaves_nothing_a_restarted_one_does_not_clean()
    {
        var filename = $"crashed-{Guid.NewGuid():N}.bin";
        var content = new GeneratedContent(40L * 1024 * 1024, seed: 42, delayPerPiece: TimeSpan.FromMilliseconds(10));
        var upload = UploadRawAsync(Http, filename, content, Cancel);
        var fileId = await WaitForFileAsync(filename);
        await WaitUntilAsync(() => Task.FromResult(content.BytesServed >= 10L * 1024 * 1024), "10 MiB sent");
        var chunkIds = await ChunkIdsAsync(fileId);

        await fixture.Cluster.RestartGatewayAsync(kill: true, Cancel);
        await Assert.ThrowsAnyAsync<Exception>(() => upload);

        // The session went silent with the old gateway: after Uploads:SessionTimeout the new
        // one's cleanup job removes the rows and the chunks from every node.
        await WaitUntilAsync(async () => (await Http.GetAsync($"/files/{fileId}/metadata", Cancel)).StatusCode == HttpStatusCode.NotFound, "the expired upload's rows to be removed", seconds: 30);
        await WaitUntilAsync(() => Task.FromResult(NoChunkFiles(chunkIds) && NoTempFiles(chunkIds)), "its chunks to be gone from every node", describe: () => Leftovers(chunkIds));
    }

    [Fact]
    public async Task An_upload_slower_than_the_session_timeout_completes_because_bytes_keep_it_alive()
    {
        // About 9.6 s of upload against a 6 s session timeout and a cleanup every 0.5 s.
        var content = new GeneratedContent(3 * 1024 * 1024, seed: 43, delayPerPiece: TimeSpan.FromMilliseconds(200));
        var created = await UploadRawAsync(Http, "slow-but-alive.bin", content, Cancel);

        Assert.Equal(GeneratedContent.Sha256Of(3 * 1024 * 1024, 43), created.Sha256);
        Assert.Equal("completed", await StatusAsync(created.FileId));
    }

    [Fact]
    public async Task A_node_stalled_mid_stream_is_dropped_and_the_upload_still_gets_two_copies()
    {
        const long size = 40L * 1024 * 1024;
        var filename = $"stalled-{Guid.NewGuid():N}.bin";
        var content = new GeneratedContent(size, seed: 44, delayBeforeFirstByte: TimeSpan.FromSeconds(1), delayPerPiece: TimeSpan.FromMilliseconds(2));
        var upload = UploadRawAsync(Http, filename, content, Cancel);
        var fileId = await WaitForFileAsync(filename);
        var victim = Node(await PlannedReplicaAsync(fileId, chunk: 0));
        await WaitUntilAsync(() => Task.FromResult(content.BytesServed >= 1024 * 1024), "chunk 0 to be streaming");

        victim.Process.Signal(PosixSignals.Stop);
        try
        {
            var created = await upload;
            Assert.Equal(GeneratedContent.Sha256Of(size, 44), created.Sha256);
            var metadata = await MetadataAsync(Http, created.FileId, Cancel);
            AssertEveryChunkHasTwoStoredCopies(metadata);
            Assert.DoesNotContain(victim.Name, StoredHolders(metadata, chunk: 0));
            var (sha256, _) = await DownloadHashAsync(Http, created.FileId, Cancel);
            Assert.Equal(created.Sha256, sha256);
        }
        finally
        {
            victim.Process.Signal(PosixSignals.Continue);
        }
    }

    [Fact]
    public async Task A_node_killed_during_an_upload_is_replaced_by_the_next_node_on_the_ring()
    {
        const long size = 40L * 1024 * 1024;
        var filename = $"killed-{Guid.NewGuid():N}.bin";
        var content = new GeneratedContent(size, seed: 45, delayBeforeFirstByte: TimeSpan.FromSeconds(1), delayPerPiece: TimeSpan.FromMilliseconds(2));
        var upload = UploadRawAsync(Http, filename, content, Cancel);
        var fileId = await WaitForFileAsync(filename);
        // A node planned for a later chunk dies while chunk 0 streams: the later chunk's
        // open fails, is retried, and goes to the next node on the ring.
        var victim = Node(await PlannedReplicaAsync(fileId, chunk: 3));
        await WaitUntilAsync(() => Task.FromResult(content.BytesServed >= 1024 * 1024), "chunk 0 to be streaming");

        await victim.Process.KillAsync();
        try
        {
            var created = await upload;
            Assert.Equal(GeneratedContent.Sha256Of(size, 45), created.Sha256);
            var metadata = await MetadataAsync(Http, created.FileId, Cancel);
            AssertEveryChunkHasTwoStoredCopies(metadata);
            Assert.DoesNotContain(victim.Name, StoredHolders(metadata, chunk: 3));
            var (sha256, _) = await DownloadHashAsync(Http, created.FileId, Cancel);
            Assert.Equal(created.Sha256, sha256);
        }
        finally
        {
            await fixture.Cluster.RestartNodeAsync(victim, Cancel);
        }
    }

    [Theory]
    [InlineData("killed")]
    [InlineData("stalled")]
    public async Task Small_files_sent_in_one_call_per_node_go_around_a_node_that_is_killed_or_stalled(string fault)
    {
        // Small files take the batched path (one PutChunks call per node). The victim is still in
        // the ring, so some of every file's chunks are planned on it: its call fails (refused, or
        // cut off after the stall timeout) and those chunks go to their next nodes on the ring.
        var victim = fixture.Cluster.Nodes[2];
        // An earlier test may have restarted it: the gateway must have it in its ring again.
        await WaitUntilAsync(
            async () => (await NodeStateAsync(victim.Name)) is var state && state.GetProperty("in_ring").GetBoolean() && state.GetProperty("live").GetBoolean(),
            $"{victim.Name} to be live and in the ring");
        var logBefore = (await ReadSharedAsync(Path.Combine(fixture.Cluster.LogDirectory, "gateway.log"), Cancel)).Length;
        if (fault == "killed")
        {
            await victim.Process.KillAsync();
        }
        else
        {
            victim.Process.Signal(PosixSignals.Stop);
        }

        try
        {
            // All at once, while the victim is surely still in the ring (it leaves when its
            // heartbeat is overdue): one file misses a given node with odds (2/3)^6, about 9%,
            // so files sent one after another could all be planned elsewhere; six at once miss
            // it with odds below one in a million.
            var files = new[] { (4096, 70), (5, 71), (300_000, 72), (4096, 73), (1, 74), (70_000, 75) }
                .Select(file => (Bytes: GeneratedContent.Bytes(file.Item1, file.Item2), Name: $"small-{fault}-{file.Item2}.bin"))
                .ToArray();
            var created = await Task.WhenAll(files.Select(file => UploadRawAsync(Http, file.Name, file.Bytes, Cancel)));
            for (var i = 0; i < files.Length; i++)
            {
                var metadata = await MetadataAsync(Http, created[i].FileId, Cancel);
                AssertEveryChunkHasTwoStoredCopies(metadata);
                Assert.All(Enumerable.Range(0, ChunkPlanner.ChunksPerFile), chunk => Assert.DoesNotContain(victim.Name, StoredHolders(metadata, chunk)));
                using var download = await Http.GetAsync($"/files/{created[i].FileId}", Cancel);
                Assert.Equal(files[i].Bytes, await download.Content.ReadAsByteArrayAsync(Cancel));
            }

            // The failover really ran: the gateway logged the victim's call failing. Its log reaches
            // the file through the console logger's queue and the launcher's pump, so it may lag.
            var failed = new System.Text.RegularExpressions.Regex($"Storing \\d+ chunks on {victim.Name} failed");
            await WaitUntilAsync(
                async () => failed.IsMatch((await ReadSharedAsync(Path.Combine(fixture.Cluster.LogDirectory, "gateway.log"), Cancel))[logBefore..]),
                $"the gateway to log that {victim.Name} failed its call");
        }
        finally
        {
            if (fault == "killed")
            {
                await fixture.Cluster.RestartNodeAsync(victim, Cancel);
            }
            else
            {
                victim.Process.Signal(PosixSignals.Continue);
            }
        }
    }

    [Fact]
    public async Task A_silent_node_is_treated_as_down_and_placement_avoids_it_until_it_speaks_again()
    {
        var victim = fixture.Cluster.Nodes[1];
        victim.Process.Signal(PosixSignals.Stop);
        try
        {
            await WaitUntilAsync(async () => !(await NodeStateAsync(victim.Name)).GetProperty("live").GetBoolean(), $"{victim.Name} to be seen as down");
            await WaitUntilAsync(async () => (await HealthAsync()).GetProperty("storage_servers").GetProperty("live").GetInt32() == fixture.Cluster.Nodes.Count - 1 - InactiveCount(), "the ring to drop it");

            for (var i = 0; i < 3; i++)
            {
                var created = await UploadRawAsync(Http, $"while-down-{i}.bin", GeneratedContent.Bytes(600_000, 50 + i), Cancel);
                var metadata = await MetadataAsync(Http, created.FileId, Cancel);
                Assert.DoesNotContain(victim.Name, metadata.GetProperty("chunks").EnumerateArray().SelectMany(c => StoredHolders(metadata, c.GetProperty("chunk_number").GetInt32())));
            }
        }
        finally
        {
            victim.Process.Signal(PosixSignals.Continue);
        }

        await WaitUntilAsync(async () => (await NodeStateAsync(victim.Name)).GetProperty("in_ring").GetBoolean(), $"{victim.Name} to rejoin the ring");
    }

    [Fact]
    public async Task A_seventh_node_takes_new_chunks_and_draining_it_moves_them_away_and_lets_it_go()
    {
        // Chunks placed before the node joins, whatever ran before this test: the rebalance
        // below must have existing copies to move (a CI run that ran this test first had none).
        var files = new List<CreatedFile>();
        for (var i = 0; i < 8; i++)
        {
            files.Add(await UploadRawAsync(Http, $"before-join-{i}.bin", GeneratedContent.Bytes(200_000 + i, 40 + i), Cancel));
        }

        var seventh = await fixture.Cluster.AddNodeAsync($"storage-{fixture.Cluster.Nodes.Count + 1}", Cancel);
        await WaitUntilAsync(async () => (await NodeStateAsync(seventh.Name)).GetProperty("in_ring").GetBoolean(), "the new node to join the ring");
        var share = (await NodeStateAsync(seventh.Name)).GetProperty("ring_share").GetDouble();
        output.WriteLine($"{seventh.Name} owns {share:P1} of the ring");

        var landed = 0;
        for (var i = 0; i < 15 && landed == 0; i++)
        {
            var created = await UploadRawAsync(Http, $"after-join-{i}.bin", GeneratedContent.Bytes(300_000 + i, 60 + i), Cancel);
            files.Add(created);
            var metadata = await MetadataAsync(Http, created.FileId, Cancel);
            landed += Enumerable.Range(0, 6).Count(chunk => StoredHolders(metadata, chunk).Contains(seventh.Name));
        }

        Assert.True(landed > 0, $"no chunk of {files.Count} new files landed on {seventh.Name}");

        // Existing chunks whose ring placement now names the new node move to it, and only those.
        var heldBefore = (await NodeStateAsync(seventh.Name)).GetProperty("stored_copies").GetInt64();
        var rebalance = (await RepairAsync()).GetProperty("last_pass");
        var held = (await NodeStateAsync(seventh.Name)).GetProperty("stored_copies").GetInt64();
        var movedOnto = held - heldBefore;
        var checkedChunks = rebalance.GetProperty("chunks_checked").GetInt32();
        output.WriteLine($"after {seventh.Name} joined: {movedOnto} existing chunk copies of {checkedChunks} chunks moved onto it ({(double)movedOnto / checkedChunks:P1}; about 2/7 of the chunk sets change)");
        Assert.InRange(movedOnto, 1, checkedChunks / 2);
        Assert.True(rebalance.GetProperty("rebalanced").GetInt32() >= movedOnto);
        Assert.Equal(0, rebalance.GetProperty("unrecoverable").GetInt32());

        using (var drain = await Http.PostAsync($"/admin/nodes/{seventh.Name}/drain", null, Cancel))
        {
            Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        }

        var report = await RepairAsync();
        output.WriteLine($"drain of {seventh.Name} ({held} copies): {report}");
        Assert.Equal(held, report.GetProperty("last_pass").GetProperty("repaired").GetInt32());
        Assert.Contains(seventh.Name, report.GetProperty("last_pass").GetProperty("drains_completed").EnumerateArray().Select(n => n.GetString()));
        var state = await NodeStateAsync(seventh.Name);
        Assert.Equal("inactive", state.GetProperty("status").GetString());
        Assert.Equal(0, state.GetProperty("stored_copies").GetInt64());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(seventh.DataDirectory, "chunks"), "*", SearchOption.AllDirectories));

        // Let it go for good, then every file is still whole with two copies.
        await seventh.Process.StopAsync(TimeSpan.FromSeconds(30));
        foreach (var file in files)
        {
            AssertEveryChunkHasTwoStoredCopies(await MetadataAsync(Http, file.FileId, Cancel));
            Assert.Equal(file.Sha256, (await DownloadHashAsync(Http, file.FileId, Cancel)).Sha256);
        }
    }

    [Fact]
    public async Task A_node_whose_data_directory_was_wiped_gets_its_chunks_back_from_repair()
    {
        var files = new List<CreatedFile>();
        for (var i = 0; i < 3; i++)
        {
            files.Add(await UploadRawAsync(Http, $"wiped-{i}.bin", GeneratedContent.Bytes(2_000_000 + i, 70 + i), Cancel));
        }

        var victim = fixture.Cluster.Nodes[2];
        var lost = (await NodeStateAsync(victim.Name)).GetProperty("stored_copies").GetInt64();
        await victim.Process.KillAsync();
        Directory.Delete(victim.DataDirectory, recursive: true);
        var restarted = await fixture.Cluster.RestartNodeAsync(victim, Cancel);
        await WaitUntilAsync(async () => (await NodeStateAsync(restarted.Name)).GetProperty("in_ring").GetBoolean(), "the wiped node to rejoin");

        var report = await RepairAsync();
        output.WriteLine($"{victim.Name} lost {lost} copies; repair: {report}");
        Assert.True(report.GetProperty("last_pass").GetProperty("repaired").GetInt32() >= lost);
        Assert.Equal(0, report.GetProperty("last_pass").GetProperty("unrecoverable").GetInt32());
        Assert.Equal(0, report.GetProperty("backlog").GetInt64());
        // Seven chunks a page: the pass read its chunks in several pages and missed none of them.
        var checkedChunks = report.GetProperty("last_pass").GetProperty("chunks_checked").GetInt32();
        Assert.True(checkedChunks >= 18, $"{checkedChunks} chunks checked; the three files alone have 18");
        Assert.Equal((checkedChunks + 6) / 7, report.GetProperty("last_pass").GetProperty("pages").GetInt32());

        // With the copies restored, any other single node may die.
        var other = fixture.Cluster.Nodes[3];
        await other.Process.KillAsync();
        try
        {
            foreach (var file in files)
            {
                Assert.Equal(file.Sha256, (await DownloadHashAsync(Http, file.FileId, Cancel)).Sha256);
            }
        }
        finally
        {
            await fixture.Cluster.RestartNodeAsync(other, Cancel);
        }
    }

    [Fact]
    public async Task A_corrupt_copy_is_read_around_then_rewritten_by_repair()
    {
        var data = GeneratedContent.Bytes(3_000_000, 80);
        var created = await UploadRawAsync(Http, "rotten.bin", data, Cancel);
        var metadata = await MetadataAsync(Http, created.FileId, Cancel);
        var chunk = metadata.GetProperty("chunks")[0];
        var chunkId = Guid.Parse(chunk.GetProperty("chunk_id").GetString()!);
        // The copy downloads read first: the gateway orders live copies by this hash (FileCatalog.ReadPlan).
        var first = chunk.GetProperty("replicas").EnumerateArray()
            .OrderBy(r => HashRing.Hash($"{chunkId:D}#{r.GetProperty("server_id").GetGuid():D}"))
            .First();
        var node = Node(first.GetProperty("name").GetString()!);
        StorageNode.ChunkTransfers.FlipByteOnDisk(StorageNode.ChunkTransfers.ChunkPath(node.DataDirectory, chunkId.ToString()), 1234);

        Assert.Equal(data, await DownloadAsync(Http, created.FileId, Cancel));
        var afterRead = await MetadataAsync(Http, created.FileId, Cancel);
        Assert.Equal("corrupt", Replica(afterRead, 0, node.Name).GetProperty("status").GetString());

        var report = await RepairAsync();
        Assert.True(report.GetProperty("last_pass").GetProperty("repaired").GetInt32() >= 1);
        Assert.Equal("stored", Replica(await MetadataAsync(Http, created.FileId, Cancel), 0, node.Name).GetProperty("status").GetString());
        var (_, fromNode) = await StorageNode.ChunkTransfers.GetAsync(node.Client, chunkId.ToString(), Cancel);
        Assert.Equal(data.AsSpan(0, fromNode.Length).ToArray(), fromNode);
    }

    [Fact]
    public async Task Orphan_chunks_no_file_owns_are_collected_after_the_grace_period()
    {
        var node = fixture.Cluster.Nodes[0];
        var old = Guid.NewGuid().ToString("D");
        await StorageNode.ChunkTransfers.PutAsync(node.Client, old, GeneratedContent.Bytes(50_000, 90), Cancel);
        await Task.Delay(TimeSpan.FromSeconds(2.5), Cancel);
        var fresh = Guid.NewGuid().ToString("D");
        await StorageNode.ChunkTransfers.PutAsync(node.Client, fresh, GeneratedContent.Bytes(50_000, 91), Cancel);

        var report = await RepairAsync();

        Assert.True(report.GetProperty("last_pass").GetProperty("orphans_collected").GetInt32() >= 1);
        Assert.False(File.Exists(StorageNode.ChunkTransfers.ChunkPath(node.DataDirectory, old)));
        Assert.True(File.Exists(StorageNode.ChunkTransfers.ChunkPath(node.DataDirectory, fresh)), "a chunk younger than the grace period may belong to an upload in flight");
    }

    private StorageNodeProcess Node(string name) => fixture.Cluster.Nodes.Single(n => n.Name == name);

    private int InactiveCount() => fixture.Cluster.Nodes.Count(n => n.Process.HasExited);

    private async Task<Guid> WaitForFileAsync(string filename)
    {
        Guid? found = null;
        await WaitUntilAsync(async () =>
        {
            using var response = await Http.GetAsync("/files?per_page=1000", Cancel);
            var list = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
            found = list.GetProperty("items").EnumerateArray()
                .Where(i => i.GetProperty("filename").GetString() == filename)
                .Select(i => (Guid?)i.GetProperty("file_id").GetGuid())
                .FirstOrDefault();
            return found is not null;
        }, $"{filename} to appear");
        return found!.Value;
    }

    private async Task<string> StatusAsync(Guid fileId) =>
        (await MetadataAsync(Http, fileId, Cancel)).GetProperty("status").GetString()!;

    private async Task<List<string>> ChunkIdsAsync(Guid fileId) =>
        (await MetadataAsync(Http, fileId, Cancel)).GetProperty("chunks").EnumerateArray().Select(c => c.GetProperty("chunk_id").GetString()!).ToList();

    private async Task<string> PlannedReplicaAsync(Guid fileId, int chunk) =>
        (await MetadataAsync(Http, fileId, Cancel)).GetProperty("chunks")[chunk].GetProperty("replicas")[0].GetProperty("name").GetString()!;

    private bool NoChunkFiles(IEnumerable<string> chunkIds) =>
        fixture.Cluster.Nodes.All(node => chunkIds.All(id => !File.Exists(StorageNode.ChunkTransfers.ChunkPath(node.DataDirectory, id))));

    private string Leftovers(IEnumerable<string> chunkIds) =>
        "Left: " + string.Join(", ", fixture.Cluster.Nodes.SelectMany(node =>
            chunkIds.Where(id => File.Exists(StorageNode.ChunkTransfers.ChunkPath(node.DataDirectory, id))).Select(id => $"{node.Name}:chunk {id}")
                .Concat(Directory.Exists(Path.Combine(node.DataDirectory, "tmp")) ? Directory.EnumerateFiles(Path.Combine(node.DataDirectory, "tmp")).Select(f => $"{node.Name}:{Path.GetFileName(f)}") : [])));

    /// <summary>No temporary file of these chunks (temporary names start with the chunk id); a killed node's own leftovers from other tests are its start-up sweep's business.</summary>
    private bool NoTempFiles(IEnumerable<string> chunkIds) =>
        fixture.Cluster.Nodes.All(node => !Directory.Exists(Path.Combine(node.DataDirectory, "tmp"))
            || !Directory.EnumerateFiles(Path.Combine(node.DataDirectory, "tmp")).Any(f => chunkIds.Any(id => Path.GetFileName(f).StartsWith(id, StringComparison.Ordinal))));

    private static List<string> StoredHolders(JsonElement metadata, int chunk) =>
        metadata.GetProperty("chunks")[chunk].GetProperty("replicas").EnumerateArray()
            .Where(r => r.GetProperty("status").GetString() == "stored")
            .Select(r => r.GetProperty("name").GetString()!)
            .ToList();

    private static JsonElement Replica(JsonElement metadata, int chunk, string node) =>
        metadata.GetProperty("chunks")[chunk].GetProperty("replicas").EnumerateArray().Single(r => r.GetProperty("name").GetString() == node);

    private static void AssertEveryChunkHasTwoStoredCopies(JsonElement metadata)
    {
        Assert.Equal("completed", metadata.GetProperty("status").GetString());
        foreach (var chunk in metadata.GetProperty("chunks").EnumerateArray())
        {
            var holders = StoredHolders(metadata, chunk.GetProperty("chunk_number").GetInt32());
            Assert.Equal(2, holders.Count);
            Assert.Equal(2, holders.Distinct().Count());
        }
    }

    private async Task<JsonElement> NodeStateAsync(string name)
    {
        var nodes = await Http.GetFromJsonAsync<JsonElement>("/admin/nodes", Cancel);
        return nodes.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("name").GetString() == name).OrderBy(n => n.GetProperty("status").GetString() == "inactive").First();
    }

    private Task<JsonElement> HealthAsync() => FileClient.HealthAsync(Http, Cancel);

    private async Task<JsonElement> RepairAsync()
    {
        using var response = await Http.PostAsync("/admin/repair", null, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        Assert.Equal(JsonValueKind.Null, report.GetProperty("last_pass").GetProperty("error").ValueKind);
        return report;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 20, Func<string>? describe = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out after {seconds} s waiting for {what}. {describe?.Invoke()}");
            }

            await Task.Delay(100, Cancel);
        }
    }
}
