using Aspire.Hosting.ApplicationModel;

// The topology of the store, and the only place that knows it: PostgreSQL with the `metadata`
// database, the gateway, and the storage nodes. eng/DevCluster starts the same topology
// without Aspire, through the same configuration keys.
var builder = DistributedApplication.CreateBuilder(args);

// How many nodes: `dotnet run --project S3Storage.AppHost -- --StorageNodes 8`, or
// "StorageNodes" in appsettings. Topology is fixed when the model is built, so this is
// configuration, not a runtime parameter resource.
var nodeCount = builder.Configuration.GetValue("StorageNodes", 6);
if (nodeCount < 1)
{
    throw new InvalidOperationException($"StorageNodes must be at least 1, not {nodeCount}.");
}

// Publishing (azd up / aspire deploy) targets Azure Container Apps.
if (builder.ExecutionContext.IsPublishMode)
{
    builder.AddAzureContainerAppEnvironment("aca");
}

// Locally a PostgreSQL container with a data volume; on Azure, Azure Database for PostgreSQL:
// a PostgreSQL container on an Azure Files (SMB) volume is not reliable. Password
// authentication keeps the services on plain Npgsql connection strings.
var postgres = builder.AddAzurePostgresFlexibleServer("postgres")
    .WithPasswordAuthentication()
    .RunAsContainer(container => container.WithDataVolume());
var metadata = postgres.AddDatabase("metadata");

var gateway = builder.AddProject<Projects.S3Storage_Gateway>("gateway")
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health")
    .WithReference(metadata)
    .WaitFor(metadata);

// Six project resources, never WithReplicas: replicas sit behind one load-balancing proxy,
// and consistent hashing must reach each node by its own address.
for (var i = 1; i <= nodeCount; i++)
{
    var name = "storage-" + i;
    var node = builder.AddProject<Projects.S3Storage_StorageNode>(name)
        // The launch profile's port would be shared by every node: let each get its own.
        .WithEndpoint("http", endpoint => endpoint.Port = null)
        // gRPC over h2c: ACA ingress must speak HTTP/2 to it. No HTTP health check here: an
        // HTTP/1.1 probe fails against an HTTP/2-only endpoint.
        .AsHttp2Service()
        .WithEnvironment("Node__Name", name)
        .WithReference(metadata)
        .WaitFor(metadata);

    // The address the gateway dials: the node's own endpoint, so the scheme follows the
    // environment (http locally, https once ACA upgrades it).
    node.WithEnvironment("Node__AdvertisedAddress", node.GetEndpoint("http"));

    if (builder.ExecutionContext.IsPublishMode)
    {
        // Projects have no WithVolume: the mount annotation becomes an Azure Files share.
        var dataDirectory = "/data";
        node.WithEnvironment("Node__DataDir", dataDirectory)
            .WithAnnotation(new ContainerMountAnnotation(name + "-data", dataDirectory, ContainerMountType.Volume, isReadOnly: false))
            .PublishAsAzureContainerApp((infrastructure, app) =>
            {
                // A node is one identity with one disk: never scale it out or to zero.
                app.Template.Scale.MinReplicas = 1;
                app.Template.Scale.MaxReplicas = 1;
            });
    }
    else
    {
        var dataDirectory = Path.Combine(builder.AppHostDirectory, ".data", name);
        node.WithEnvironment("Node__DataDir", dataDirectory);
    }

    gateway.WithReference(node);
}

builder.Build().Run();
