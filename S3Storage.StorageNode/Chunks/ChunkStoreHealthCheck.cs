using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace S3Storage.StorageNode.Chunks;

/// <summary>
/// The node's own view of its disk, served over grpc.health.v1 (the dashboard and ACA probe it
/// there: the node's only endpoint speaks HTTP/2, so an HTTP/1.1 /health probe cannot reach it).
/// </summary>
public sealed class ChunkStoreHealthCheck(ChunkStore store) : IHealthCheck
{
    public const string Name = "chunk-store";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // The health publisher can run before the store is initialised (the node may still be
        // waiting for the database): not ready yet is no fault, and must not show as one.
        if (!store.Initialized)
        {
            return Task.FromResult(HealthCheckResult.Degraded("Starting: the chunk store is not initialised yet."));
        }

        if (!Directory.Exists(store.ChunksDirectory))
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"The chunk directory {store.ChunksDirectory} is gone (volume unmounted?)."));
        }

        var data = new Dictionary<string, object>
        {
            ["chunks"] = store.ChunkCount,
            ["used_bytes"] = store.UsedBytes,
            ["free_bytes"] = store.FreeSpace(),
            ["corrupt_chunks"] = store.CorruptCount,
        };

        // Draining is a healthy node on its way out: say so rather than show it green.
        return Task.FromResult(store.Draining
            ? HealthCheckResult.Degraded("Draining: refusing new chunks.", data: data)
            : HealthCheckResult.Healthy(data: data));
    }
}
