using S3Storage.DevCluster;

namespace S3Storage.Tests.Cluster;

/// <summary>
/// The dev cluster, exactly as `dotnet run --project eng/DevCluster` starts it (PostgreSQL, six
/// node processes, the gateway process), with short intervals so failures are noticed in
/// seconds rather than the production 10–30 s.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    private LocalCluster? _cluster;

    public LocalCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster has not started.");

    public HttpClient Http => Cluster.Gateway.Http;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"s3storage-cluster-{Guid.NewGuid():N}");

    public async ValueTask InitializeAsync()
    {
        _cluster = await LocalCluster.StartAsync(
            new ClusterSettings(Root)
            {
                GatewayPort = 0,
                Nodes = 6,
                ReplicationFactor = 2,
                DurablePostgres = false,
                HeartbeatInterval = TimeSpan.FromSeconds(1),
                GatewayEnvironment = new Dictionary<string, string?>
                {
                    ["Storage__NodeTimeout"] = "00:00:03",
                    ["Storage__RingRefreshInterval"] = "00:00:01",
                    ["Uploads__StallTimeout"] = "00:00:05",
                    ["Uploads__RetryDelay"] = "00:00:00.050",
                },
            },
            TestContext.Current.CancellationToken);
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

[CollectionDefinition(Name)]
public sealed class SharedClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "shared cluster";
}
