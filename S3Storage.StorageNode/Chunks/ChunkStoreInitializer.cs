using Microsoft.Extensions.Options;
using S3Storage.StorageNode.Cluster;

namespace S3Storage.StorageNode.Chunks;

/// <summary>Prepares the data directory before the node serves: identity, layout, stale temporary files, counts.</summary>
internal sealed class ChunkStoreInitializer(ChunkStore store, NodeIdentity identity, IOptions<NodeOptions> options, ILogger<ChunkStore> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = identity.ServerId;
        store.Initialize(options.Value.TempFileMaxAge, logger);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
