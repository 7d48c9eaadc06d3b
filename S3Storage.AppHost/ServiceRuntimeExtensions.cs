using S3Storage.Contracts.Configuration;

namespace S3Storage.AppHost;

internal static class ServiceRuntimeExtensions
{
    /// <summary>The runtime settings every gateway and node process gets (see <see cref="ServiceRuntime"/>).</summary>
    public static IResourceBuilder<ProjectResource> WithServiceRuntime(this IResourceBuilder<ProjectResource> service)
    {
        foreach (var (key, value) in ServiceRuntime.Environment)
        {
            service.WithEnvironment(key, value);
        }

        return service;
    }
}
