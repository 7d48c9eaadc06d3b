namespace S3Storage.AppHost;

/// <summary>
/// Deployment.Azure.cs without Azure, for package sources that lack Aspire.Hosting.Azure.*
/// (AzureDeployment=false). Running is the same; publishing writes a plain PostgreSQL container
/// and volumes into the manifest, with no Azure Container Apps settings (no replica pinning).
/// </summary>
internal static class Deployment
{
    public static void AddDeploymentEnvironment(this IDistributedApplicationBuilder builder)
    {
    }

    public static IResourceBuilder<IResourceWithConnectionString> AddPublishedMetadataDatabase(
        this IDistributedApplicationBuilder builder, string serverName, string databaseName) =>
        builder.AddPostgres(serverName).WithDataVolume().AddDatabase(databaseName);

    /// <summary>A node's chunks outlive the node: <paramref name="localDirectory"/> locally, a named volume when published.</summary>
    public static IResourceBuilder<ProjectResource> WithNodeDataDirectory(this IResourceBuilder<ProjectResource> node, string name, string localDirectory)
    {
        if (!node.ApplicationBuilder.ExecutionContext.IsPublishMode)
        {
            return node.WithEnvironment("Node__DataDir", localDirectory);
        }

        var dataDirectory = "/data";
        return node.WithEnvironment("Node__DataDir", dataDirectory)
            .WithAnnotation(new ContainerMountAnnotation(name + "-data", dataDirectory, ContainerMountType.Volume, isReadOnly: false));
    }
}
