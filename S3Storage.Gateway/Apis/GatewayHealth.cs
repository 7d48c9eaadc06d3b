using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Access;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Apis;

/// <summary>Healthy with at least R live nodes; degraded with fewer (reads may work, uploads cannot); unhealthy with none.</summary>
public sealed class StorageNodesHealthCheck(ClusterView cluster, IOptions<StorageOptions> options) : IHealthCheck
{
    public const string Name = "storage";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshot = cluster.Current;
        var replicas = options.Value.ReplicationFactor;
        var data = new Dictionary<string, object>
        {
            ["live"] = snapshot.PlaceableCount,
            ["known"] = snapshot.Nodes.Count,
            ["replication_factor"] = replicas,
            ["nodes"] = snapshot.Nodes.Values.OrderBy(n => n.Name).Select(n => new { name = n.Name, live = n.Live, status = n.Status.ToString().ToLowerInvariant() }).ToList(),
        };
        var description = $"{snapshot.PlaceableCount} of {snapshot.Nodes.Count} storage nodes live; {replicas} needed per chunk";
        var result = snapshot.PlaceableCount >= replicas
            ? HealthCheckResult.Healthy(description, data)
            : snapshot.PlaceableCount > 0
                ? HealthCheckResult.Degraded(description, data: data)
                : HealthCheckResult.Unhealthy(description, data: data);
        return Task.FromResult(result);
    }
}

/// <summary>The gateway's <c>/health</c> body: status, database, live storage servers, active uploads; the node list for admin keys.</summary>
public static class GatewayHealth
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = false };

    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var metrics = context.RequestServices.GetRequiredService<GatewayMetrics>();
        var storage = report.Entries.GetValueOrDefault(StorageNodesHealthCheck.Name);
        var database = report.Entries.GetValueOrDefault(MetadataStoreExtensions.HealthCheckName);
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            Status = Name(report.Status),
            Database = new { Status = Name(database.Status), Description = database.Description ?? database.Exception?.Message },
            StorageServers = new
            {
                Status = Name(storage.Status),
                Live = storage.Data.GetValueOrDefault("live"),
                Known = storage.Data.GetValueOrDefault("known"),
                ReplicationFactor = storage.Data.GetValueOrDefault("replication_factor"),
                // Which nodes exist and where is for operators: admin keys only.
                Nodes = context.User.IsInRole(AccessRoles.Admin) ? storage.Data.GetValueOrDefault("nodes") : null,
            },
            ActiveUploads = metrics.ActiveUploads,
            DurationMs = report.TotalDuration.TotalMilliseconds,
        }, Json));
    }

    private static string Name(HealthStatus status) => status.ToString().ToLowerInvariant();
}
