using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Gateway.Access;
using S3Storage.Gateway.Apis;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Downloads;
using S3Storage.Gateway.Files;
using S3Storage.Gateway.Maintenance;
using S3Storage.Gateway.S3;
using S3Storage.Gateway.Telemetry;
using S3Storage.Gateway.Uploads;

namespace S3Storage.Gateway;

public static class GatewayExtensions
{
    /// <summary>Room for multipart framing around the largest file.</summary>
    private const long FramingAllowance = 1024 * 1024;

    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<StorageOptions>().Bind(builder.Configuration.GetSection(StorageOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<UploadOptions>().Bind(builder.Configuration.GetSection(UploadOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<RepairOptions>().Bind(builder.Configuration.GetSection(RepairOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();

        var maxFileSize = builder.Configuration.GetSection(StorageOptions.SectionName).GetValue(nameof(StorageOptions.MaxFileSize), new StorageOptions().MaxFileSize);
        services.Configure<KestrelServerOptions>(kestrel =>
        {
            // Uploads up to the largest file; a body that grows past it is cut off by Kestrel.
            kestrel.Limits.MaxRequestBodySize = maxFileSize + FramingAllowance;
        });

        // Uploads in flight are allowed to finish on shutdown.
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromMinutes(2));

        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        services.AddProblemDetails();
        services.AddExceptionHandler<StoreExceptionHandler>();
        services.AddApiDocument();

        services.AddOptions<ClusterOptions>().Bind(builder.Configuration.GetSection(ClusterOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();

        builder.AddMetadataStore();
        builder.AddAccessControl();
        builder.AddS3Api();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<ClusterView>();
        services.AddSingleton<NodeClients>();
        services.AddSingleton<NodeCalls>();
        NodeCalls.AddPipeline(services);
        services.AddSingleton<ChunkRemover>();
        services.AddSingleton<ChunkCopier>();
        services.AddSingleton<ChunkWriter>();
        services.AddSingleton<ChunkBatchWriter>();
        services.AddSingleton<ReplicaReaderServices>();
        services.AddSingleton<ReplicaStatusRecorder>();
        services.AddSingleton<RepairRequests>();
        services.AddSingleton<UploadSessionKeeper>();
        services.AddScoped<FileUploader>();
        services.AddScoped<FileCatalog>();
        services.AddScoped<FileListing>();
        services.AddScoped<FileDeleter>();
        services.AddSingleton<RingRefreshService>();
        services.AddHostedService(sp => sp.GetRequiredService<RingRefreshService>());
        services.AddSingleton<SessionCleanupService>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionCleanupService>());
        services.AddSingleton<ReplicaReconciler>();
        services.AddSingleton<MaintenanceCopier>();
        services.AddSingleton<ReplicationRepairer>();
        services.AddSingleton<Rebalancer>();
        services.AddSingleton<DrainCompleter>();
        services.AddSingleton<RepairService>();
        services.AddHostedService(sp => sp.GetRequiredService<RepairService>());

        services.AddHealthChecks().AddCheck<StorageNodesHealthCheck>(StorageNodesHealthCheck.Name);

        services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics.AddMeter(GatewayMetrics.MeterName))
            .WithTracing(tracing => tracing.AddSource(GatewayMetrics.ActivitySourceName));
        return builder;
    }
}
