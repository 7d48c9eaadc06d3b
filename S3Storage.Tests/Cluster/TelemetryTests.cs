using System.Text.RegularExpressions;
using static S3Storage.Tests.Cluster.FileClient;

namespace S3Storage.Tests.Cluster;

/// <summary>
/// The services' own traces and metrics, read from their console exporter output: one upload is
/// one trace from the gateway through each node it wrote to, and the custom meters report.
/// </summary>
public sealed class TelemetryTests(TelemetryClusterFixture fixture, ITestOutputHelper output) : IClassFixture<TelemetryClusterFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_upload_is_one_trace_from_the_gateway_through_the_nodes_and_to_PostgreSQL()
    {
        var created = await UploadRawAsync(fixture.Http, "traced.bin", GeneratedContent.Bytes(1_000_000, 7), Cancel);
        Assert.Equal(created.Sha256, (await DownloadHashAsync(fixture.Http, created.FileId, Cancel)).Sha256);

        var gatewayLog = await WaitForLogAsync(fixture.Cluster.LogDirectory, "gateway.log", "Activity.DisplayName:\\s+upload");
        var upload = Spans(gatewayLog).First(s => s.Name == "upload" && s.Tags.Contains(created.FileId.ToString()));
        var trace = upload.TraceId;
        output.WriteLine($"upload trace {trace}");

        // Gateway side: the HTTP request, the gRPC calls out, and the metadata queries.
        var gatewaySpans = Spans(gatewayLog).Where(s => s.TraceId == trace).ToList();
        Assert.Contains(gatewaySpans, s => s.Name.StartsWith("POST", StringComparison.Ordinal));
        Assert.Contains(gatewaySpans, s => s.Name.Contains("StorageNode/PutChunk", StringComparison.Ordinal));
        Assert.Contains(gatewaySpans, s => s.Source == "Npgsql");

        // Node side: every node that stored a chunk served PutChunk in the same trace.
        var metadata = await MetadataAsync(fixture.Http, created.FileId, Cancel);
        var holders = metadata.GetProperty("chunks").EnumerateArray()
            .SelectMany(c => c.GetProperty("replicas").EnumerateArray().Select(r => r.GetProperty("name").GetString()!))
            .Distinct()
            .ToList();
        foreach (var holder in holders)
        {
            var nodeLog = await WaitForLogAsync(fixture.Cluster.LogDirectory, holder + ".log", trace);
            Assert.Contains(Spans(nodeLog), s => s.TraceId == trace && s.Name.Contains("PutChunk", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_gateway_and_the_nodes_report_their_own_metrics()
    {
        await UploadRawAsync(fixture.Http, "measured.bin", GeneratedContent.Bytes(500_000, 8), Cancel);

        foreach (var metric in new[]
        {
            "s3storage.gateway.bytes.uploaded", "s3storage.gateway.uploads.active", "s3storage.gateway.operation.duration",
            "s3storage.gateway.nodes.live", "s3storage.gateway.ring.points", "Npgsql",
        })
        {
            await WaitForLogAsync(fixture.Cluster.LogDirectory, "gateway.log", Regex.Escape(metric));
        }

        foreach (var metric in new[]
        {
            "s3storage.node.chunks.written", "s3storage.node.bytes.written", "s3storage.node.chunks", "s3storage.node.space.free",
            "s3storage.node.space.used", "s3storage.node.heartbeat.age", "s3storage.node.operation.duration",
        })
        {
            await WaitForLogAsync(fixture.Cluster.LogDirectory, "storage-1.log", $"Metric Name: {Regex.Escape(metric)}\\b");
        }
    }

    private sealed record Span(string TraceId, string Name, string Source, string Tags);

    /// <summary>Spans as the console exporter prints them: one block per activity, starting at its trace id.</summary>
    private static List<Span> Spans(string log) =>
        log.Split("Activity.TraceId:").Skip(1).Select(block => new Span(
            block.TrimStart()[..32],
            Field(block, @"Activity\.DisplayName:\s+([^\r\n]+)"),
            Field(block, @"Instrumentation scope \(ActivitySource\):\s+Name:\s+([^\r\n]+)"),
            block)).ToList();

    private static string Field(string block, string pattern) =>
        Regex.Match(block, pattern) is { Success: true } match ? match.Groups[1].Value.Trim() : "";

    private static async Task<string> WaitForLogAsync(string directory, string file, string pattern)
    {
        var path = Path.Combine(directory, file);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var log = File.Exists(path) ? await File.ReadAllTextAsync(path, Cancel) : "";
            if (Regex.IsMatch(log, pattern))
            {
                return log;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"{file} never showed /{pattern}/.");
            }

            await Task.Delay(250, Cancel);
        }
    }
}
