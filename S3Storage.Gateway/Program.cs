using S3Storage.Gateway;
using S3Storage.Gateway.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGateway();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapDefaultEndpoints(GatewayHealth.WriteAsync);
app.MapFilesApi();
app.MapAdminApi();

app.Run();
