// The topology of the store, and the only place that knows it: PostgreSQL with the `metadata`
// database, the gateway, and the storage nodes. eng/DevCluster starts the same topology
// without Aspire, through the same configuration keys.
var builder = DistributedApplication.CreateBuilder(args);

// Six project resources, never WithReplicas: replicas sit behind one load-balancing proxy,
// and consistent hashing must reach each node by its own address.
var nodeCount = builder.Configuration.GetValue("StorageNodes", 6);

var postgres = builder.AddPostgres("postgres");
if (builder.ExecutionContext.IsRunMode)
{
    postgres.WithDataVolume();
}

var metadata = postgres.AddDatabase("metadata");

var gateway = builder.AddProject<Projects.S3Storage_Gateway>("gateway")
    .WithExternalHttpEndpoints()
    .WithReference(metadata)
    .WaitFor(metadata);

for (var i = 1; i <= nodeCount; i++)
{
    var name = "storage-" + i;
    var dataDirectory = Path.Combine(builder.AppHostDirectory, ".data", name);
    var node = builder.AddProject<Projects.S3Storage_StorageNode>(name)
        // The launch profile's port would be shared by every node: let each get its own.
        .WithEndpoint("http", endpoint => endpoint.Port = null)
        .WithEnvironment("Node__Name", name)
        .WithEnvironment("Node__DataDir", dataDirectory)
        .WithReference(metadata)
        .WaitFor(metadata);
    node.WithEnvironment("Node__AdvertisedAddress", node.GetEndpoint("http"));
    gateway.WithReference(node);
}

builder.Build().Run();
