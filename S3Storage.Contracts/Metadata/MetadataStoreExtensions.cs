using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace S3Storage.Contracts.Metadata;

public static class MetadataStoreExtensions
{
    /// <summary>
    /// The metadata store as the Aspire Npgsql EF Core integration would wire it (that package
    /// cannot be restored here): pooled DbContext on one NpgsqlDataSource, retry on transient
    /// failures, a health check, Npgsql traces and metrics, and migrations at start-up.
    /// </summary>
    public static TBuilder AddMetadataStore<TBuilder>(this TBuilder builder, bool applyMigrationsAtStartup = true)
        where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddOptions<MetadataStoreOptions>()
            .Configure<IConfiguration>((options, configuration) =>
                options.ConnectionString = configuration.GetConnectionString(MetadataStoreOptions.ConnectionStringName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<MetadataStoreOptions>, MetadataStoreOptionsValidator>();

        services.AddSingleton(sp =>
            new NpgsqlDataSourceBuilder(sp.GetRequiredService<IOptions<MetadataStoreOptions>>().Value.ConnectionString).Build());

        services.AddDbContextPool<MetadataDbContext>((sp, options) =>
            options.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>(), npgsql => npgsql.EnableRetryOnFailure()));

        services.AddHealthChecks().AddDbContextCheck<MetadataDbContext>("metadata", tags: ["ready"]);

        services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddNpgsql())
            .WithMetrics(metrics => metrics.AddMeter("Npgsql"));

        if (applyMigrationsAtStartup)
        {
            services.AddHostedService<MetadataMigrationService>();
        }

        return builder;
    }
}
