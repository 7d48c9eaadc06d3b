using Microsoft.Extensions.DependencyInjection;
using S3Storage.Contracts.Configuration;

namespace S3Storage.AppHost.Tests;

/// <summary>
/// The model alone (no orchestrator, no container runtime): what each resource is handed,
/// evaluated as a publish would write it into the manifest.
/// </summary>
public sealed class AppHostModelTests
{
    private static readonly string[] NodeNames = [.. Enumerable.Range(1, 6).Select(i => "storage-" + i)];

    [Fact]
    public async Task The_model_wires_six_nodes_and_the_gateway_with_the_configuration_keys_of_the_design()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.S3Storage_AppHost>(["--MetadataDatabase:Server=container"], cancellationToken);
        await using var app = await appHost.BuildAsync(cancellationToken);
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();
        var publish = PublishContext(app);

        var nodes = model.Resources.OfType<ProjectResource>().Where(r => r.Name.StartsWith("storage-", StringComparison.Ordinal)).ToList();
        Assert.Equal(NodeNames, nodes.Select(n => n.Name));
        foreach (var node in nodes)
        {
            var environment = await EnvironmentOfAsync(node, publish, cancellationToken);
            Assert.Equal(node.Name, environment["Node__Name"]);
            Assert.Equal($"{{{node.Name}.bindings.http.url}}", environment["Node__AdvertisedAddress"]);
            Assert.Equal("{metadata.connectionString}", environment["ConnectionStrings__metadata"]);
            Assert.True(environment.ContainsKey("Node__DataDir"));
            Assert.Equal("{cluster-secret.value}", environment["Cluster__Secret"]);

            // Its own port (not the launch profile's, shared by all six), spoken as HTTP/2.
            var endpoint = Assert.Single(node.Annotations.OfType<EndpointAnnotation>(), e => e.Name == "http");
            Assert.Null(endpoint.Port);
            Assert.Equal("http2", endpoint.Transport);
            Assert.Single(node.Annotations.OfType<HealthCheckAnnotation>());
            Assert.Contains(node.Annotations.OfType<WaitAnnotation>(), wait => wait.Resource.Name == "metadata");
        }

        var gateway = Assert.Single(model.Resources.OfType<ProjectResource>(), r => r.Name == "gateway");
        var gatewayEnvironment = await EnvironmentOfAsync(gateway, publish, cancellationToken);
        Assert.Equal("{metadata.connectionString}", gatewayEnvironment["ConnectionStrings__metadata"]);
        Assert.Equal("{cluster-secret.value}", gatewayEnvironment["Cluster__Secret"]);
        Assert.Equal("s3s_{aws-access-key-id.value}_{aws-secret-access-key.value}", gatewayEnvironment["Access__AdminKey"]);
        // The secrets are secret parameters: masked in the dashboard, kept out of a published
        // manifest's values; the key id is shown, as S3 tools are given it.
        Assert.All(
            new[] { "aws-secret-access-key", "cluster-secret" },
            name => Assert.True(Assert.IsType<ParameterResource>(Assert.Single(model.Resources, r => r.Name == name)).Secret));
        Assert.False(Assert.IsType<ParameterResource>(Assert.Single(model.Resources, r => r.Name == "aws-access-key-id")).Secret);
        foreach (var node in NodeNames)
        {
            Assert.Equal($"{{{node}.bindings.http.url}}", gatewayEnvironment[$"services__{node}__http__0"]);
            Assert.Contains(gateway.Annotations.OfType<WaitAnnotation>(), wait => wait.Resource.Name == node);
        }

        Assert.Contains(gateway.Annotations.OfType<EndpointAnnotation>(), e => e.IsExternal);
        Assert.Single(gateway.Annotations.OfType<HealthCheckAnnotation>());

        // The container setup: a PostgreSQL container with a data volume behind the database.
        var server = Assert.Single(model.Resources, r => r.Name == "postgres");
        Assert.IsAssignableFrom<ContainerResource>(server);
        Assert.Contains(server.Annotations.OfType<ContainerMountAnnotation>(), mount => mount.Type == ContainerMountType.Volume);
    }

    [Fact]
    public async Task Without_a_container_runtime_the_database_is_the_machines_own_PostgreSQL_behind_a_password()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "s3storage-model-" + Guid.NewGuid().ToString("N"));
        await using var app = await BuildLocalAsync(dataDirectory, cancellationToken);
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();
        var publish = PublishContext(app);

        var server = Assert.IsType<ProjectResource>(Assert.Single(model.Resources, r => r.Name == "postgres"));
        var environment = await EnvironmentOfAsync(server, publish, cancellationToken);
        Assert.Equal("metadata", environment["POSTGRES_DB"]);
        Assert.Equal("{postgres-password.value}", environment["POSTGRES_PASSWORD"]);
        var password = Assert.IsType<ParameterResource>(Assert.Single(model.Resources, r => r.Name == "postgres-password"));
        Assert.True(password.Secret);
        var arguments = await ArgumentsOfAsync(server, publish, cancellationToken);
        Assert.Equal(["postgres", "--data", Path.Combine(dataDirectory, "postgres"), "--ready-file", Path.Combine(dataDirectory, "postgres") + ".ready"], arguments);

        var metadata = Assert.IsType<ConnectionStringResource>(Assert.Single(model.Resources, r => r.Name == "metadata"));
        Assert.Contains("Password={postgres-password.value}", metadata.ConnectionStringExpression.ValueExpression);
        Assert.Single(metadata.Annotations.OfType<HealthCheckAnnotation>());
        Assert.All(model.Resources.OfType<ProjectResource>().Where(r => r.Name != "postgres"),
            service => Assert.Contains(service.Annotations.OfType<WaitAnnotation>(), wait => wait.Resource.Name == "metadata"));
    }

    [Fact]
    public async Task The_gateway_and_every_node_get_the_services_runtime_environment()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var dataDirectory = Path.Combine(Path.GetTempPath(), "s3storage-model-" + Guid.NewGuid().ToString("N"));
        await using var app = await BuildLocalAsync(dataDirectory, cancellationToken);
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();
        var publish = PublishContext(app);

        var services = model.Resources.OfType<ProjectResource>().Where(r => r.Name == "gateway" || r.Name.StartsWith("storage-", StringComparison.Ordinal)).ToList();
        Assert.Equal(7, services.Count);
        foreach (var service in services)
        {
            var environment = await EnvironmentOfAsync(service, publish, cancellationToken);
            foreach (var (key, value) in ServiceRuntime.Environment)
            {
                Assert.Equal(value, environment[key]);
            }
        }
    }

    /// <summary>The AppHost's model in the local-database setup, its state under <paramref name="dataDirectory"/>.</summary>
    private static async Task<DistributedApplication> BuildLocalAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.S3Storage_AppHost>(
            ["--MetadataDatabase:Server=local", "--DataDirectory=" + dataDirectory], cancellationToken);
        return await appHost.BuildAsync(cancellationToken);
    }

    // Publish-mode evaluation writes expressions instead of values: no endpoint needs allocating.
    private static DistributedApplicationExecutionContext PublishContext(DistributedApplication app) =>
        new(new DistributedApplicationExecutionContextOptions(DistributedApplicationOperation.Publish) { Services = app.Services });

    private static async Task<Dictionary<string, string>> EnvironmentOfAsync(IResource resource, DistributedApplicationExecutionContext context, CancellationToken cancellationToken)
    {
        var configuration = await ExecutionConfigurationBuilder.Create(resource)
            .WithEnvironmentVariablesConfig()
            .BuildAsync(context, resourceLogger: null, cancellationToken);
        return configuration.EnvironmentVariables.ToDictionary();
    }

    private static async Task<IReadOnlyList<string>> ArgumentsOfAsync(IResource resource, DistributedApplicationExecutionContext context, CancellationToken cancellationToken)
    {
        var configuration = await ExecutionConfigurationBuilder.Create(resource)
            .WithArgumentsConfig()
            .BuildAsync(context, resourceLogger: null, cancellationToken);
        return [.. configuration.Arguments.Select(a => a.Value)];
    }
}
