using S3Storage.Gateway;
using S3Storage.Gateway.Access;
using S3Storage.Gateway.Apis;

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
app.MapApiDocument();

app.Run();
