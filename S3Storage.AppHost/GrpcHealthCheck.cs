using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace S3Storage.AppHost;

/// <summary>
/// The dashboard's view of a storage node: the standard grpc.health.v1 Check on the node's own
/// HTTP/2 endpoint. WithHttpHealthCheck cannot be used there (its HTTP/1.1 request fails
/// against an h2c-only endpoint).
/// </summary>
internal static class GrpcHealthCheckExtensions
{
    public static IResourceBuilder<ProjectResource> WithGrpcHealthCheck(this IResourceBuilder<ProjectResource> node)
    {
        var endpoint = node.GetEndpoint("http");
        var key = node.Resource.Name + "_grpc_health_check";
        // One channel per node for the AppHost's lifetime; the address is known only once the
        // endpoint is allocated, hence lazy.
        var channel = new Lazy<GrpcChannel>(() => GrpcChannel.ForAddress(endpoint.Url));
        node.ApplicationBuilder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            key,
            _ => new GrpcHealthCheck(channel),
            failureStatus: HealthStatus.Unhealthy,
            tags: null,
            timeout: TimeSpan.FromSeconds(5)));
        return node.WithHealthCheck(key);
    }

    private sealed class GrpcHealthCheck(Lazy<GrpcChannel> channel) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var reply = await new Health.HealthClient(channel.Value).CheckAsync(new HealthCheckRequest(), cancellationToken: cancellationToken);
                return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving
                    ? HealthCheckResult.Healthy()
                    : new HealthCheckResult(context.Registration.FailureStatus, $"grpc.health.v1 says {reply.Status}");
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return new HealthCheckResult(context.Registration.FailureStatus, exception: ex);
            }
        }
    }
}
