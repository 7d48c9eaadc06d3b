using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using S3Storage.Contracts.Access;
using Scalar.AspNetCore;

namespace S3Storage.Gateway.Apis;

/// <summary>
/// The OpenAPI document of the REST API (<c>/openapi/v1.json</c>), with the bearer scheme and
/// the answers every protected call can give (401, 403, 429, 503); in Development also an
/// interactive page (<c>/scalar</c>).
/// </summary>
public static class ApiDocument
{
    public const string BearerSchemeName = "Bearer";

    public static IServiceCollection AddApiDocument(this IServiceCollection services) =>
        services.AddOpenApi(openApi =>
        {
            openApi.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "S3Storage gateway";
                document.Info.Description = "Files up to 10 GiB, cut into 6 chunks and stored twice on the storage nodes.";
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerSchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = $"{AccessKeyToken.Prefix}<key id>_<secret>",
                    Description = "An access key: POST /admin/keys makes one; the first admin key comes from configuration.",
                };
                return Task.CompletedTask;
            });
            openApi.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<IAllowAnonymous>().Any())
                {
                    return Task.CompletedTask;
                }

                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerSchemeName, context.Document)] = [] });
                operation.Responses ??= new OpenApiResponses();
                foreach (var (status, description) in new[]
                {
                    ("401", "No key, or not a live key of this store (problem details, WWW-Authenticate: Bearer)."),
                    ("403", "The key's role does not allow this call (problem details)."),
                    ("429", "Over the key's request rate or concurrent uploads (problem details, Retry-After)."),
                    ("503", "Too few storage nodes live, or the metadata database unreachable (problem details; Retry-After for the database)."),
                })
                {
                    operation.Responses.TryAdd(status, new OpenApiResponse
                    {
                        Description = description,
                        Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() },
                    });
                }

                return Task.CompletedTask;
            });
        });

    /// <summary>The document for anyone (clients generate from it); the interactive page in Development only.</summary>
    public static WebApplication MapApiDocument(this WebApplication app)
    {
        app.MapOpenApi().AllowAnonymous();
        if (app.Environment.IsDevelopment())
        {
            app.MapScalarApiReference().AllowAnonymous();
        }

        return app;
    }
}
