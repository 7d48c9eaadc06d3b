using Microsoft.Extensions.Configuration;
using S3Storage.AppHost;

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

// Where local state lives (node chunks, the local PostgreSQL server's files): "DataDirectory",
// by default .data beside the AppHost.
var dataDirectory = Path.GetFullPath(builder.Configuration["DataDirectory"] is { Length: > 0 } configured
    ? configured
    : Path.Combine(builder.AppHostDirectory, ".data"));

builder.AddDeploymentEnvironment();
var metadata = builder.AddMetadataDatabase(dataDirectory);
var adminKey = builder.AddAdminKey();
var clusterSecret = builder.AddClusterSecret();

// The gateway is stateless and may scale out (WithReplicas locally, ACA's scale rules when
// deployed): every replica serves requests against the one database, and its maintenance
// (repair, rebalancing, drains, orphan collection) runs on one replica at a time under a
// PostgreSQL advisory lock; upload-session cleanup claims rows with SKIP LOCKED.
var gateway = builder.AddProject<Projects.S3Storage_Gateway>("gateway")
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health")
    .WithEnvironment("Access__AdminKey", adminKey.Token)
    .WithEnvironment("Cluster__Secret", clusterSecret)
    .WithServiceRuntime()
    .WithReference(metadata)
    .WaitFor(metadata);

// Six project resources, never WithReplicas, and no node ever scales out: replicas sit behind
// one load-balancing proxy, and consistent hashing must reach each node, one identity with one
// disk, by its own address.
for (var i = 1; i <= nodeCount; i++)
{
    var name = "storage-" + i;
    var node = builder.AddProject<Projects.S3Storage_StorageNode>(name)
        // The launch profile's port would be shared by every node: let each get its own.
        .WithEndpoint("http", endpoint => endpoint.Port = null)
        // gRPC over h2c: ACA ingress must speak HTTP/2 to it.
        .AsHttp2Service()
        // An HTTP/1.1 probe fails against the HTTP/2-only endpoint: probe grpc.health.v1.
        .WithGrpcHealthCheck()
        .WithEnvironment("Node__Name", name)
        .WithEnvironment("Cluster__Secret", clusterSecret)
        .WithServiceRuntime()
        .WithReference(metadata)
        .WaitFor(metadata);

    // The address the gateway dials: the node's own endpoint, so the scheme follows the
    // environment (http locally, https once ACA upgrades it).
    node.WithEnvironment("Node__AdvertisedAddress", node.GetEndpoint("http"));
    node.WithNodeDataDirectory(name, Path.Combine(dataDirectory, name));

    // services__storage-N__http__0 on the gateway: the node list it was deployed with. The
    // gateway starts once the nodes are up, as in the dev cluster: started first, it would
    // report itself unhealthy (no node to place a chunk on) until they register.
    gateway.WithReference(node).WaitFor(node);
}

builder.Build().Run();
