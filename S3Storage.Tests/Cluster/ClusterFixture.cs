using S3Storage.DevCluster;

namespace S3Storage.Tests.Cluster;

/// <summary>
/// The dev cluster, exactly as `dotnet run --project eng/DevCluster` starts it (PostgreSQL, six
/// node processes, the gateway process), with short intervals so failures are noticed in
/// seconds rather than the production 10–30 s.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    private static readonly SemaphoreSlim StartGate = new(1, 1);

    private LocalCluster? _cluster;

    public LocalCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster has not started.");

    public HttpClient Http => Cluster.Gateway.Http;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"s3storage-cluster-{Guid.NewGuid():N}");

    /// <summary>Settings a fixture adds to or overrides on the gateway.</summary>
    protected virtual IReadOnlyDictionary<string, string?> GatewayOverrides { get; } = new Dictionary<string, string?>();

    /// <summary>Settings for every node.</summary>
    protected virtual IReadOnlyDictionary<string, string?> NodeOverrides { get; } = new Dictionary<string, string?>();

    protected virtual int NodeCount => 6;

    /// <summary>PostgreSQL with fsync and synchronous commit, for tests that crash it: without them a crash loses the last commits.</summary>
    public virtual bool DurablePostgres => false;

    public async ValueTask InitializeAsync()
    {
        var gateway = new Dictionary<string, string?>
        {
            ["Storage__NodeTimeout"] = "00:00:03",
            ["Storage__RingRefreshInterval"] = "00:00:01",
            ["Uploads__StallTimeout"] = "00:00:05",
            ["Uploads__StoreTimeout"] = "00:00:20",
            ["Uploads__RetryDelay"] = "00:00:00.050",
            // Tests run repair passes themselves (POST /admin/repair), so they see exactly one.
            ["Repair__Enabled"] = "false",
        };
        foreach (var (key, value) in GatewayOverrides)
        {
            gateway[key] = value;
        }

        // One cluster starts at a time: a start (PostgreSQL, the nodes' and the gateway's JIT,
        // migrations) is the heaviest minute a cluster has, and two CI runs timed out waiting
        // for nodes to register while other clusters started beside theirs on two cores.
        await StartGate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            _cluster = await LocalCluster.StartAsync(
                new ClusterSettings(Root)
                {
                    GatewayPort = 0,
                    Nodes = NodeCount,
                    ReplicationFactor = 2,
                    DurablePostgres = DurablePostgres,
                    HeartbeatInterval = TimeSpan.FromSeconds(1),
                    GatewayEnvironment = gateway,
                    NodeEnvironment = NodeOverrides,
                },
                TestContext.Current.CancellationToken);
        }
        finally
        {
            StartGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// A cluster for failure tests: short session timeout and cleanup interval, stalls noticed in
/// 2 s, no background repair (tests run a pass with POST /admin/repair), a 2 s orphan grace,
/// and repair reading 7 chunks a page, so every pass of these tests pages through its chunks.
/// </summary>
public sealed class ResilienceClusterFixture : ClusterFixture
{
    protected override IReadOnlyDictionary<string, string?> GatewayOverrides { get; } = new Dictionary<string, string?>
    {
        // Three stall timeouts: a node dropped for stalling must not cost the upload its session
        // on a loaded machine (with 4 s, twice the stall timeout, this test failed in 2 of 4 CI runs).
        ["Uploads__SessionTimeout"] = "00:00:06",
        ["Uploads__CleanupInterval"] = "00:00:00.500",
        ["Uploads__StallTimeout"] = "00:00:02",
        ["Uploads__StoreTimeout"] = "00:00:08",
        ["Repair__OrphanGracePeriod"] = "00:00:02",
        ["Repair__BytesPerSecond"] = "0",
        ["Repair__PageSize"] = "7",
    };
}

/// <summary>Three nodes and a gateway that print their traces and metrics to their logs (the console exporter), exported every second.</summary>
public sealed class TelemetryClusterFixture : ClusterFixture
{
    private static readonly Dictionary<string, string?> Telemetry = new()
    {
        ["S3Storage__Telemetry__Console"] = "true",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
    };

    protected override int NodeCount => 3;

    protected override IReadOnlyDictionary<string, string?> GatewayOverrides => Telemetry;

    protected override IReadOnlyDictionary<string, string?> NodeOverrides => Telemetry;
}

[CollectionDefinition(Name)]
public sealed class SharedClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "shared cluster";
}
