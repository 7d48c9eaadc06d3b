using S3Storage.Gateway;
using S3Storage.Gateway.Access;
using S3Storage.Gateway.Apis;
using S3Storage.Gateway.S3;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGateway();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAccessControl();
app.MapDefaultEndpoints(GatewayHealth.WriteAsync);
app.MapFilesApi();
app.MapAdminApi();
app.MapKeysApi();
app.MapBucketGrantsApi();
app.MapApiDocument();
app.MapS3Api();

app.Run();
