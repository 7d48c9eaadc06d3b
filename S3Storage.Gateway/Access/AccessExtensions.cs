using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using S3Storage.Contracts.Metadata;
using S3Storage.Gateway.S3.Signing;

namespace S3Storage.Gateway.Access;

public static class AccessExtensions
{
    /// <summary>Shared by every gateway, so each reads the secrets another encrypted.</summary>
    public const string DataProtectionApplicationName = "S3Storage";

    /// <summary>The default authentication scheme: forwards to the bearer or the Signature V4 handler.</summary>
    public const string GatewayScheme = "Gateway";

    /// <summary>Access keys, roles and request limits. Call after <c>AddMetadataStore</c>: the key ring needs the migrated schema.</summary>
    public static IHostApplicationBuilder AddAccessControl(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AccessOptions>().Bind(builder.Configuration.GetSection(AccessOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<AccessOptions>, AccessOptionsValidator>();
        services.AddOptions<RateLimitOptions>().Bind(builder.Configuration.GetSection(RateLimitOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();

        services.AddDataProtection()
            .SetApplicationName(DataProtectionApplicationName)
            .PersistKeysToDbContext<MetadataDbContext>();
        services.AddHostedService<KeyRingInitializer>();

        services.AddMemoryCache();
        services.AddScoped<AccessKeyStore>();
        services.AddSingleton<AccessKeyCache>();
        // One default scheme that hands each request to the handler for how it is signed: S3
        // clients sign with Signature V4, REST clients send a bearer key. Challenges and
        // refusals are the REST API's (the S3 API writes its own errors).
        services.AddAuthentication(GatewayScheme)
            .AddPolicyScheme(GatewayScheme, "Bearer key or AWS Signature V4", policy =>
            {
                // Signature V4 only on the S3 endpoint: the REST API never takes it (a signature
                // of a raw path with dot-segments must not authorize the REST path it normalizes to).
                policy.ForwardDefaultSelector = context =>
                    context.GetEndpoint()?.Metadata.GetMetadata<S3.S3EndpointMarker>() is not null && SigV4AuthenticationHandler.Claims(context.Request)
                        ? SigV4AuthenticationHandler.SchemeName
                        : AccessKeyAuthenticationHandler.SchemeName;
                policy.ForwardChallenge = AccessKeyAuthenticationHandler.SchemeName;
                policy.ForwardForbid = AccessKeyAuthenticationHandler.SchemeName;
            })
            .AddScheme<AuthenticationSchemeOptions, AccessKeyAuthenticationHandler>(AccessKeyAuthenticationHandler.SchemeName, null)
            .AddScheme<AuthenticationSchemeOptions, SigV4AuthenticationHandler>(SigV4AuthenticationHandler.SchemeName, null);
        services.AddAuthorization(AccessPolicies.Add);
        services.AddRateLimiter(RequestLimits.Configure);

        services.Configure<KestrelServerOptions>(kestrel =>
        {
            // Kestrel refuses a non-ASCII header value with a bare 400 before any handler runs.
            // For Authorization, read it as Latin-1 (which cannot fail) so a garbled key gets
            // the same 401 and problem details as any other wrong key.
            kestrel.RequestHeaderEncodingSelector = name =>
                string.Equals(name, HeaderNames.Authorization, StringComparison.OrdinalIgnoreCase) ? Encoding.Latin1 : null;
        });
        return builder;
    }

    /// <summary>Authentication, then limits (so they can be per key, and failed attempts count per address), then authorization.</summary>
    public static WebApplication UseAccessControl(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        return app;
    }
}
