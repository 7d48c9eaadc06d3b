using S3Storage.StorageNode;
using S3Storage.StorageNode.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddStorageNode();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<StorageNodeService>();
app.MapGrpcHealthChecksService();

app.Run();
