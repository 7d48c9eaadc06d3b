using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace S3Storage.Contracts.Metadata;

public static class MetadataStoreExtensions
{
    /// <summary>
    /// Transient database failures are retried this often, at most <see cref="MaxRetryDelay"/>
    /// apart: a blip (a failover, a restart) is ridden out, and a database that stays down is
    /// reported within seconds (the gateway answers 503) instead of after minutes of retries.
    /// </summary>
    public const int MaxRetries = 4;

    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>The name of the metadata database's health check.</summary>
    public const string HealthCheckName = nameof(MetadataDbContext);

    /// <summary>
    /// The metadata store through Aspire's Npgsql EF Core client integration (pooled DbContext,
    /// retry on transient failures, Npgsql traces and metrics) and a health check, with the
    /// connection string validated at start-up, statements auto-prepared, and migrations
    /// applied before the host serves.
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

        builder.AddNpgsqlDbContext<MetadataDbContext>(
            MetadataStoreOptions.ConnectionStringName,
            settings =>
            {
                settings.ConnectionString = WithStatementPreparation(settings.ConnectionString);
                // Retries are configured below instead of Aspire's default (6, up to 30 s apart).
                settings.DisableRetry = true;
                // Its check reports an abandoned probe as a failed database: ours is below.
                settings.DisableHealthChecks = true;
            },
            options => options.UseNpgsql(npgsql => npgsql.EnableRetryOnFailure(MaxRetries, MaxRetryDelay, errorCodesToAdd: null)));
        services.AddHealthChecks().AddCheck<MetadataDatabaseHealthCheck>(HealthCheckName);

        if (applyMigrationsAtStartup)
        {
            services.AddHostedService<MetadataMigrationService>();
        }

        return builder;
    }

    /// <summary>
    /// The gateway runs a handful of statements thousands of times a second; prepared,
    /// PostgreSQL skips parsing and planning them (with the one-query file read, metadata GETs
    /// went from 883 to 1025/s). A connection string that sets Max Auto Prepare keeps its value;
    /// one that does not parse is left for the start-up validation to report.
    /// </summary>
    private static string? WithStatementPreparation(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return connectionString;
        }

        NpgsqlConnectionStringBuilder parsed;
        try
        {
            parsed = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException)
        {
            return connectionString;
        }

        if (parsed.MaxAutoPrepare != 0)
        {
            return connectionString;
        }

        parsed.MaxAutoPrepare = 64;
        parsed.AutoPrepareMinUsages = 2;
        return parsed.ConnectionString;
    }
}
