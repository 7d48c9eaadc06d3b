using System.Text.Json;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.StorageNode.Chunks;
using S3Storage.StorageNode.Grpc;
using S3Storage.StorageNode.Telemetry;

namespace S3Storage.StorageNode.Cluster;

/// <summary>
/// Keeps the node's row in <c>storage_servers</c> true: registers with its ring points once the
/// node serves, heartbeats every <c>Node:HeartbeatInterval</c>, and on shutdown refuses new
/// chunks, lets streams in flight finish, then marks the node inactive.
/// </summary>
public sealed partial class NodeRegistrationService(
    IServiceScopeFactory scopes,
    ChunkStore store,
    NodeIdentity identity,
    InFlightCalls inFlight,
    NodeMetrics metrics,
    IHostApplicationLifetime lifetime,
    IOptions<NodeOptions> nodeOptions,
    IOptions<StorageOptions> storageOptions,
    ILogger<NodeRegistrationService> logger) : BackgroundService
{
    private long _lastHeartbeatTicks;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        metrics.Meter.CreateObservableGauge(
            "s3storage.node.heartbeat.age",
            () => _lastHeartbeatTicks == 0 ? double.NaN : TimeSpan.FromTicks(DateTime.UtcNow.Ticks - Interlocked.Read(ref _lastHeartbeatTicks)).TotalSeconds,
            "s",
            "Time since the node's last successful heartbeat.");
        // Refuse new chunks from the first moment of shutdown; reads go on.
        lifetime.ApplicationStopping.Register(() => store.Draining = true);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Register only once the node accepts calls: the gateway may dial it at once.
        await WhenStartedAsync(stoppingToken);
        var interval = nodeOptions.Value.HeartbeatInterval;
        var registered = false;
        var retryDelay = TimeSpan.FromMilliseconds(200);
        using var timer = new PeriodicTimer(interval);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                registered = registered
                    ? await HeartbeatAsync(stoppingToken)
                    : await RegisterAsync(stoppingToken);
                retryDelay = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogMetadataUnavailable(logger, e, retryDelay.TotalMilliseconds);
                await Task.Delay(retryDelay, stoppingToken);
                retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, interval.Ticks));
                continue;
            }

            if (!registered)
            {
                continue;
            }

            await timer.WaitForNextTickAsync(stoppingToken);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        store.Draining = true;
        await base.StopAsync(cancellationToken);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(nodeOptions.Value.ShutdownTimeout);
        var waiting = inFlight.Count;
        try
        {
            await inFlight.WhenIdleAsync(timeout.Token);
            LogStreamsFinished(logger, waiting);
        }
        catch (OperationCanceledException)
        {
            LogStreamsAbandoned(logger, inFlight.Count);
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var registry = scope.ServiceProvider.GetRequiredService<ServerRegistry>();
            await registry.SetStatusAsync(identity.ServerId, ServerStatus.Inactive, CancellationToken.None);
            LogMarkedInactive(logger, nodeOptions.Value.Name, identity.ServerId);
        }
        catch (Exception e)
        {
            // The gateway also treats a silent node as down after three heartbeat intervals.
            LogMarkInactiveFailed(logger, e);
        }
    }

    private async Task<bool> RegisterAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var registry = scope.ServiceProvider.GetRequiredService<ServerRegistry>();
        var options = nodeOptions.Value;
        var metadata = JsonSerializer.Serialize(new
        {
            dataDir = store.Root,
            host = Environment.MachineName,
            version = typeof(NodeRegistrationService).Assembly.GetName().Version?.ToString(),
        });
        await registry.RegisterAsync(
            new ServerRegistration(identity.ServerId, options.Name, options.AdvertisedAddress.TrimEnd('/'), store.FreeSpace(), store.UsedBytes, store.ChunkCount, metadata),
            storageOptions.Value.VirtualNodes,
            cancellationToken);
        Interlocked.Exchange(ref _lastHeartbeatTicks, DateTime.UtcNow.Ticks);
        LogRegistered(logger, options.Name, identity.ServerId, options.AdvertisedAddress, storageOptions.Value.VirtualNodes);
        return true;
    }

    /// <summary>False when the row is gone (e.g. removed by an operator): the node registers again.</summary>
    private async Task<bool> HeartbeatAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var registry = scope.ServiceProvider.GetRequiredService<ServerRegistry>();
        var recorded = await registry.HeartbeatAsync(identity.ServerId, store.FreeSpace(), store.UsedBytes, store.ChunkCount, cancellationToken);
        if (recorded)
        {
            Interlocked.Exchange(ref _lastHeartbeatTicks, DateTime.UtcNow.Ticks);
        }

        return recorded;
    }

    private Task WhenStartedAsync(CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        return started.Task.WaitAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered {NodeName} ({ServerId}) at {AdvertisedAddress} with {VirtualNodes} ring points")]
    private static partial void LogRegistered(ILogger logger, string nodeName, Guid serverId, string advertisedAddress, int virtualNodes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Metadata store unavailable; retrying in {DelayMs} ms")]
    private static partial void LogMetadataUnavailable(ILogger logger, Exception exception, double delayMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: {Count} chunk streams in flight finished")]
    private static partial void LogStreamsFinished(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: gave up waiting for {Count} chunk streams in flight")]
    private static partial void LogStreamsAbandoned(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Marked {NodeName} ({ServerId}) inactive")]
    private static partial void LogMarkedInactive(ILogger logger, string nodeName, Guid serverId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not mark the node inactive")]
    private static partial void LogMarkInactiveFailed(ILogger logger, Exception exception);
}
