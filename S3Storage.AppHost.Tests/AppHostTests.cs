using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace S3Storage.AppHost.Tests;

/// <summary>The whole AppHost under Aspire's test host: PostgreSQL container, six nodes, the gateway.</summary>
public sealed class AppHostTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);

    private static readonly string[] NodeNames = [.. Enumerable.Range(1, 6).Select(i => "storage-" + i)];

    /// <summary>
    /// The model alone (no orchestrator, no container runtime): what each resource is handed,
    /// evaluated as a publish would write it into the manifest.
    /// </summary>
    [Fact]
    public async Task The_model_wires_six_nodes_and_the_gateway_with_the_configuration_keys_of_the_design()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.S3Storage_AppHost>(cancellationToken);
        await using var app = await appHost.BuildAsync(cancellationToken);
        var model = app.Services.GetRequiredService<DistributedApplicationModel>();
        var publish = new DistributedApplicationExecutionContext(
            new DistributedApplicationExecutionContextOptions(DistributedApplicationOperation.Publish) { Services = app.Services });

        var nodes = model.Resources.OfType<ProjectResource>().Where(r => r.Name.StartsWith("storage-", StringComparison.Ordinal)).ToList();
        Assert.Equal(NodeNames, nodes.Select(n => n.Name));
        foreach (var node in nodes)
        {
            var environment = await EnvironmentOfAsync(node, publish, cancellationToken);
            Assert.Equal(node.Name, environment["Node__Name"]);
            Assert.Equal($"{{{node.Name}.bindings.http.url}}", environment["Node__AdvertisedAddress"]);
            Assert.Equal("{metadata.connectionString}", environment["ConnectionStrings__metadata"]);
            Assert.True(environment.ContainsKey("Node__DataDir"));

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
        foreach (var node in NodeNames)
        {
            Assert.Equal($"{{{node}.bindings.http.url}}", gatewayEnvironment[$"services__{node}__http__0"]);
        }

        Assert.Contains(gateway.Annotations.OfType<EndpointAnnotation>(), e => e.IsExternal);
        Assert.Single(gateway.Annotations.OfType<HealthCheckAnnotation>());
        Assert.Contains(model.Resources, r => r.Name == "postgres");
    }

    private static async Task<Dictionary<string, string>> EnvironmentOfAsync(IResource resource, DistributedApplicationExecutionContext context, CancellationToken cancellationToken)
    {
        var configuration = await ExecutionConfigurationBuilder.Create(resource)
            .WithEnvironmentVariablesConfig()
            .BuildAsync(context, resourceLogger: null, cancellationToken);
        return configuration.EnvironmentVariables.ToDictionary();
    }

    [Fact]
    public async Task Every_resource_comes_up_and_the_gateway_stores_and_returns_a_file()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.S3Storage_AppHost>(cancellationToken);
        await using var app = await appHost.BuildAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        await app.StartAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);

        await app.ResourceNotifications.WaitForResourceHealthyAsync("gateway", cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        foreach (var node in NodeNames)
        {
            // Healthy = the node answered grpc.health.v1 with SERVING on its own endpoint.
            await app.ResourceNotifications.WaitForResourceHealthyAsync(node, cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        }

        using var http = app.CreateHttpClient("gateway");

        // Nodes register a moment after they run: wait until the gateway places on all six.
        var deadline = DateTime.UtcNow + StartTimeout;
        while ((await http.GetFromJsonAsync<JsonElement>("/health", cancellationToken)).GetProperty("storage_servers").GetProperty("live").GetInt32() < 6)
        {
            Assert.True(DateTime.UtcNow < deadline, "the gateway never saw six live storage nodes");
            await Task.Delay(500, cancellationToken);
        }

        var data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        using var content = new ByteArrayContent(data) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };
        using var upload = await http.PostAsync("/files?filename=aspire.bin", content, cancellationToken);
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var created = await upload.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), created.GetProperty("sha256").GetString());

        var fileId = created.GetProperty("file_id").GetString();
        Assert.Equal(data, await http.GetByteArrayAsync($"/files/{fileId}", cancellationToken));
    }
}
