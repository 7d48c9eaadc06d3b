using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.StorageNode.Chunks;
using S3Storage.StorageNode.Cluster;
using S3Storage.StorageNode.Grpc;
using S3Storage.StorageNode.Scrub;
using S3Storage.StorageNode.Telemetry;

namespace S3Storage.StorageNode;

public static class StorageNodeExtensions
{
    /// <summary>
    /// HTTP/2 flow-control windows for chunk streams. The 64 KiB defaults stall a fast sender
    /// every few messages; 16 MiB windows took a gateway-to-node PUT from ~150 to ~240 MB/s in
    /// the spike (../shared/reference/toolchain-notes.md) at a cost of at most 16 MiB buffered
    /// per stream.
    /// </summary>
    public const int Http2WindowSize = 16 * 1024 * 1024;

    public static IHostApplicationBuilder AddStorageNode(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<NodeOptions>().Bind(builder.Configuration.GetSection(NodeOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StorageOptions>().Bind(builder.Configuration.GetSection(StorageOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ClusterOptions>().Bind(builder.Configuration.GetSection(ClusterOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();

        // Chunk streams can outlast the default 30 s: shutdown waits for them (Node:ShutdownTimeout).
        var shutdownTimeout = builder.Configuration.GetSection(NodeOptions.SectionName).GetValue(nameof(NodeOptions.ShutdownTimeout), new NodeOptions().ShutdownTimeout);
        services.Configure<HostOptions>(host => host.ShutdownTimeout = shutdownTimeout + TimeSpan.FromSeconds(10));

        services.Configure<KestrelServerOptions>(kestrel =>
        {
            // The node's only traffic is chunk streams; the size limit is Storage:MaxFileSize,
            // checked against each chunk's header.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.Http2.InitialConnectionWindowSize = Http2WindowSize;
            kestrel.Limits.Http2.InitialStreamWindowSize = Http2WindowSize;
        });

        services.AddSingleton<NodeMetrics>();
        services.AddSingleton<NodeIdentity>();
        services.AddSingleton<ChunkStore>();
        services.AddSingleton<InFlightCalls>();
        // Hosted services start in order: the disk is ready before the node waits on the database.
        services.AddHostedService<ChunkStoreInitializer>();

        builder.AddMetadataStore();
        services.AddScoped<ServerRegistry>();

        services.AddHostedService<NodeRegistrationService>();
        services.AddHostedService<ScrubService>();

        services.AddGrpc(grpc => grpc.Interceptors.Add<ChunkErrorInterceptor>())
            // On the chunk service only: the health service answers probes without a credential.
            .AddServiceOptions<StorageNodeService>(chunkService => chunkService.Interceptors.Add<ClusterCredentialInterceptor>());
        services.AddHealthChecks().AddCheck<ChunkStoreHealthCheck>(ChunkStoreHealthCheck.Name);
        // grpc.health.v1 is what the orchestrator and ACA probe (they cannot speak HTTP/1.1 to
        // the node). It reports the node's own disk only, run on each probe (the cached default
        // lags by up to 30 s). Not the database: a node with an unreachable database still
        // serves its chunks, and probes that fail on a shared dependency restart every node at
        // once during a database outage. It also kept a probe that timed out under load from
        // cancelling the database check, which EF reports as a failed connection and logs as an
        // error. The database check stays on /health; the gateway sees a node that cannot reach
        // the database as not live once its heartbeats stop.
        services.AddGrpcHealthChecks(health =>
        {
            health.UseHealthChecksCache = false;
            health.Services.Map(string.Empty, check => check.Name == ChunkStoreHealthCheck.Name);
        });

        services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics.AddMeter(NodeMetrics.MeterName))
            .WithTracing(tracing => tracing.AddSource(NodeMetrics.ActivitySourceName));

        return builder;
    }
}
