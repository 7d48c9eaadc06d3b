using S3Storage.Contracts.Metadata;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddMetadataStore();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
