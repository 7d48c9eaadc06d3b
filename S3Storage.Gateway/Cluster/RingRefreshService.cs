using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Cluster;

/// <summary>
/// Reloads the ring from PostgreSQL every <c>Storage:RingRefreshInterval</c>, and at once when
/// asked (a node call failed). The first load happens before the gateway serves.
/// </summary>
public sealed partial class RingRefreshService(
    IServiceScopeFactory scopes,
    ClusterView view,
    GatewayMetrics metrics,
    IOptions<StorageOptions> options,
    ILogger<RingRefreshService> logger) : BackgroundService
{
    private static readonly TimeSpan MinimumGap = TimeSpan.FromMilliseconds(250);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.Meter.CreateObservableGauge("s3storage.gateway.ring.points", () => view.Current.Ring.PointCount, "{point}", "Points on the hash ring.");
        metrics.Meter.CreateObservableGauge("s3storage.gateway.nodes.live", () => view.Current.PlaceableCount, "{node}", "Storage nodes placement may use.");
        try
        {
            await RefreshAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The gateway still starts: /health reports the missing nodes, uploads answer 503.
            LogRefreshFailed(logger, e);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await view.WaitForRefreshRequestAsync(options.Value.RingRefreshInterval, stoppingToken);
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogRefreshFailed(logger, e);
            }

            // Failed calls may ask for many refreshes at once; one per gap is enough.
            await Task.Delay(MinimumGap, stoppingToken);
        }
    }

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
        var registry = new ServerRegistry(db);
        var nodeTimeout = options.Value.NodeTimeout;
        var ring = await registry.LoadRingAsync(nodeTimeout, cancellationToken);
        var inRing = ring.Servers.ToHashSet();
        var servers = await registry.GetServerStatesAsync(nodeTimeout, cancellationToken);
        var nodes = servers.ToDictionary(
            s => s.ServerId,
            s => new NodeInfo(s.ServerId, s.Name, s.GrpcAddress, s.Status, s.Live, inRing.Contains(s.ServerId), s.HeartbeatAge));

        var previous = view.Current;
        view.Update(new ClusterSnapshot(ring, nodes, DateTimeOffset.UtcNow));
        if (previous.PlaceableCount != ring.ServerCount || !previous.Ring.Servers.SequenceEqual(ring.Servers))
        {
            LogRingChanged(logger, ring.ServerCount, ring.PointCount, string.Join(", ", nodes.Values.Where(n => n.InRing).Select(n => n.Name).Order()));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ring now has {LiveNodes} live nodes and {Points} points: {Nodes}")]
    private static partial void LogRingChanged(ILogger logger, int liveNodes, int points, string nodes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reload the ring")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
