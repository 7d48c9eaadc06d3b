using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every S3Storage service shares: OpenTelemetry, health endpoints, service discovery and
/// HTTP resilience. The shape of Aspire's service-defaults template, on ordinary packages.
/// </summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";
    public const string LiveTag = "live";
    public const string GrpcHealthPath = "/grpc.health.v1.Health";

    /// <summary>"true" prints traces and metrics to stdout as well: for the dev cluster and the telemetry tests, where no OTLP collector runs.</summary>
    public const string ConsoleTelemetryKey = "S3Storage:Telemetry:Console";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Node gRPC clients remove this again: chunk streams run for minutes and must
            // never be retried by resending a half-consumed stream.
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation())
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddAspNetCoreInstrumentation(options =>
                    options.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath)
                        // The dashboard's and ACA's probes of the nodes, every few seconds.
                        && !context.Request.Path.StartsWithSegments(GrpcHealthPath))
                .AddGrpcClientInstrumentation()
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        if (builder.Configuration.GetValue<bool>(ConsoleTelemetryKey))
        {
            builder.Services.AddOpenTelemetry()
                .WithTracing(tracing => tracing.AddConsoleExporter())
                .WithMetrics(metrics => metrics.AddConsoleExporter());
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    /// <summary>
    /// <c>/health</c> (every check) and <c>/alive</c> (liveness only), open to anyone, in every environment:
    /// operators and the dev cluster probe them outside Development too. A service may give
    /// its own writer for the <c>/health</c> body.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, Func<Microsoft.AspNetCore.Http.HttpContext, HealthReport, Task>? healthResponseWriter = null)
    {
        var health = new HealthCheckOptions();
        if (healthResponseWriter is not null)
        {
            health.ResponseWriter = healthResponseWriter;
        }

        // Probes are never authenticated or rate limited: the orchestrator and ACA have no key,
        // and a probe refused under load would restart a healthy service.
        // GET and HEAD only: other methods on these paths are not probes (on the gateway they
        // reach the S3 API, which refuses the reserved bucket name).
        var probeMethods = new Microsoft.AspNetCore.Routing.HttpMethodMetadata([Microsoft.AspNetCore.Http.HttpMethods.Get, Microsoft.AspNetCore.Http.HttpMethods.Head]);
        app.MapHealthChecks(HealthEndpointPath, health).AllowAnonymous().DisableRateLimiting().WithMetadata(probeMethods);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(LiveTag) }).AllowAnonymous().DisableRateLimiting().WithMetadata(probeMethods);
        return app;
    }
}
