using S3Storage.DevCluster.Processes;
using S3Storage.Tests.Infrastructure;

namespace S3Storage.Tests.StorageNode;

/// <summary>A real storage node process with its own data directory and metadata database.</summary>
public class StorageNodeFixture(PostgresServerFixture postgres) : IAsyncLifetime
{
    private StorageNodeProcess? _node;

    public StorageNodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"s3storage-node-{Guid.NewGuid():N}");

    public string ConnectionString { get; private set; } = "";

    public string DataDirectory => Path.Combine(Root, "storage-1");

    /// <summary>What the node demands on every chunk call; the fixture's clients present it.</summary>
    public string ClusterSecret { get; } = S3Storage.Contracts.Configuration.ClusterOptions.Generate();

    protected virtual TimeSpan ScrubInterval => TimeSpan.Zero;

    public virtual async ValueTask InitializeAsync()
    {
        ConnectionString = await postgres.CreateMigratedDatabaseAsync("node");
        Directory.CreateDirectory(Root);
        _node = await StartNodeAsync(DataDirectory);
    }

    public Task<StorageNodeProcess> StartNodeAsync(string dataDirectory, string name = "storage-1") =>
        StorageNodeProcess.StartAsync(
            new StorageNodeSettings(name, dataDirectory, ConnectionString, ClusterSecret)
            {
                HeartbeatInterval = TimeSpan.FromMilliseconds(200),
                ScrubInterval = ScrubInterval,
                Extra = new Dictionary<string, string?> { ["Node__ScrubBytesPerSecond"] = "0" },
            },
            TestContext.Current.CancellationToken);

    /// <summary>Stops the fixture's node (SIGTERM) and starts it again on the same data directory.</summary>
    public async Task RestartAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        _node = await StartNodeAsync(DataDirectory);
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
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

/// <summary>A node whose scrub runs every second.</summary>
public sealed class ScrubbingStorageNodeFixture(PostgresServerFixture postgres) : StorageNodeFixture(postgres)
{
    protected override TimeSpan ScrubInterval => TimeSpan.FromSeconds(1);
}
