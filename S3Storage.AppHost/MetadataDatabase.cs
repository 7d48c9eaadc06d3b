using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace S3Storage.AppHost;

/// <summary>Where the PostgreSQL server behind the <c>metadata</c> database comes from when the AppHost runs.</summary>
internal enum MetadataServer
{
    /// <summary>A container when a container runtime answers, else the machine's own server binaries.</summary>
    Auto,

    /// <summary>A PostgreSQL container with a data volume (the usual F5 experience).</summary>
    Container,

    /// <summary>The machine's own PostgreSQL server binaries (initdb, pg_ctl), run by eng/DevCluster.</summary>
    Local,
}

/// <summary>The "MetadataDatabase" configuration section of the AppHost.</summary>
internal sealed class MetadataDatabaseSettings
{
    public const string SectionName = "MetadataDatabase";

    public MetadataServer Server { get; set; } = MetadataServer.Auto;

    /// <summary>Another PostgreSQL image for the container, e.g. one built locally where no registry is reachable.</summary>
    public string? Image { get; set; }

    /// <summary>The tag of <see cref="Image"/>.</summary>
    public string? Tag { get; set; }

    /// <summary>False: the container's data goes with it (throwaway runs such as tests).</summary>
    public bool DataVolume { get; set; } = true;
}

internal static class MetadataDatabaseExtensions
{
    private const string DatabaseName = "metadata";
    private const string ServerName = "postgres";

    /// <summary>
    /// The metadata database, the one resource every service references. An existing server
    /// (<c>ConnectionStrings:metadata</c> set) wins; otherwise <c>MetadataDatabase:Server</c>
    /// picks a container or the machine's own binaries. Publishing always targets the
    /// deployment's database (Deployment.*.cs).
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddMetadataDatabase(this IDistributedApplicationBuilder builder, string dataDirectory)
    {
        var section = builder.Configuration.GetSection(MetadataDatabaseSettings.SectionName);
        MetadataDatabaseSettings settings;
        try
        {
            settings = section.Get<MetadataDatabaseSettings>() ?? new MetadataDatabaseSettings();
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(
                $"The {MetadataDatabaseSettings.SectionName} settings are not valid ({MetadataDatabaseSettings.SectionName}:{nameof(MetadataDatabaseSettings.Server)} " +
                $"is auto, container or local; {MetadataDatabaseSettings.SectionName}:{nameof(MetadataDatabaseSettings.DataVolume)} true or false): {e.Message}", e);
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            return builder.AddPublishedMetadataDatabase(ServerName, DatabaseName);
        }

        if (!string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(DatabaseName)))
        {
            return builder.AddConnectionString(DatabaseName);
        }

        var server = settings.Server == MetadataServer.Auto
            ? ContainerRuntime.Problem(builder.Configuration["ASPIRE_CONTAINER_RUNTIME"]) is null ? MetadataServer.Container : MetadataServer.Local
            : settings.Server;
        return server == MetadataServer.Container
            ? builder.AddContainerPostgres(settings)
            : builder.AddLocalPostgres(Path.Combine(dataDirectory, ServerName));
    }

    /// <summary>
    /// A PostgreSQL container whose image creates the database at its first start
    /// (<c>POSTGRES_DB</c>). Not <c>AddDatabase</c>: Aspire creates that database only once the
    /// server is ready, and a clean start then logs either its health check's "database does
    /// not exist" or, with the image creating it, its own "already exists".
    /// </summary>
    private static IResourceBuilder<IResourceWithConnectionString> AddContainerPostgres(this IDistributedApplicationBuilder builder, MetadataDatabaseSettings settings)
    {
        var server = builder.AddPostgres(ServerName).WithEnvironment("POSTGRES_DB", DatabaseName);
        if (settings.Image is { Length: > 0 } image)
        {
            server.WithImage(image, settings.Tag);
        }

        // After WithImage: the volume's mount point depends on the image's major version.
        if (settings.DataVolume)
        {
            server.WithDataVolume();
        }

        // The server itself in the expression, not its connection string expression: the
        // resource then waits for the server, not for the password parameter inside, which
        // AddPostgres keeps out of the model (waiting for it would never end).
        return builder.AddDatabaseConnectionString(ReferenceExpression.Create($"{server.Resource};Database={DatabaseName}"));
    }

    /// <summary>
    /// The machine's PostgreSQL server as a resource of its own: eng/DevCluster's
    /// <c>postgres</c> command runs it in the foreground with the data under
    /// <paramref name="serverDirectory"/>, password authentication, and the database created.
    /// </summary>
    private static IResourceBuilder<IResourceWithConnectionString> AddLocalPostgres(this IDistributedApplicationBuilder builder, string serverDirectory)
    {
        // Persisted in the AppHost's user secrets, like AddPostgres's: stable across runs. No
        // special characters, which a connection string would have to quote.
        var password = builder.AddParameter(
            ServerName + "-password",
            new GenerateParameterDefault { MinLength = 22, Special = false },
            secret: true,
            persist: true);

        // The command writes the ready file once the server accepts connections; the database
        // check waits for it, so nothing connects while PostgreSQL is still starting (a FATAL
        // in its log).
        var readyFile = serverDirectory + ".ready";
        var server = builder.AddProject<Projects.DevCluster>(ServerName)
            .WithArgs("postgres", "--data", serverDirectory, "--ready-file", readyFile)
            .WithEndpoint(name: "tcp", scheme: "tcp", env: "POSTGRES_PORT")
            .WithEnvironment("POSTGRES_PASSWORD", password)
            .WithEnvironment("POSTGRES_DB", DatabaseName)
            .WithIconName("DatabaseMultiple");

        var endpoint = server.GetEndpoint("tcp");
        return builder.AddDatabaseConnectionString(
            ReferenceExpression.Create(
                $"Host={endpoint.Property(EndpointProperty.Host)};Port={endpoint.Property(EndpointProperty.Port)};Username=postgres;Password={password.Resource};Database={DatabaseName}"),
            serverReady: () => File.Exists(readyFile));
    }

    /// <summary>
    /// The <c>metadata</c> resource: the connection string the services get, healthy once the
    /// database accepts a connection (the services wait for that). It waits for the server it
    /// names to start.
    /// </summary>
    private static IResourceBuilder<ConnectionStringResource> AddDatabaseConnectionString(
        this IDistributedApplicationBuilder builder, ReferenceExpression connectionString, Func<bool>? serverReady = null)
    {
        var metadata = builder.AddConnectionString(DatabaseName, connectionString).WithIconName("Database");
        string? value = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(metadata.Resource, async (_, cancellationToken) =>
            value = await metadata.Resource.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheck = DatabaseName + "_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheck, _ => new DatabaseExistsHealthCheck(() => value, serverReady ?? (() => true)), HealthStatus.Unhealthy, tags: null));
        return metadata.WithHealthCheck(healthCheck);
    }

    /// <summary>
    /// Healthy once the server accepts the connection string's credentials and the database
    /// exists. It asks the server's own <c>postgres</c> database: connecting to the target
    /// before it is created would leave "database does not exist" FATALs in the server's log.
    /// </summary>
    private sealed class DatabaseExistsHealthCheck(Func<string?> connectionString, Func<bool> serverReady) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (!serverReady())
            {
                return HealthCheckResult.Unhealthy("The server is starting.");
            }

            if (connectionString() is not { } value)
            {
                return HealthCheckResult.Unhealthy("The connection string is not known yet.");
            }

            var target = new NpgsqlConnectionStringBuilder(value);
            var server = new NpgsqlConnectionStringBuilder(value) { Database = "postgres", Pooling = false };
            try
            {
                await using var connection = new NpgsqlConnection(server.ConnectionString);
                await connection.OpenAsync(cancellationToken);
                await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
                exists.Parameters.AddWithValue("name", target.Database ?? DatabaseName);
                return await exists.ExecuteScalarAsync(cancellationToken) is null
                    ? HealthCheckResult.Unhealthy($"Database '{target.Database}' does not exist yet.")
                    : HealthCheckResult.Healthy();
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                return HealthCheckResult.Unhealthy("The server does not accept connections yet.", e);
            }
        }
    }
}
