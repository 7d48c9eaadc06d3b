using Aspire.Hosting.Azure;

namespace S3Storage.AppHost;

/// <summary>
/// What publishing to Azure Container Apps (azd up / aspire deploy) adds to the model.
/// Everything Azure-specific in the AppHost is in this file, built when AzureDeployment is true
/// (the default); Deployment.Local.cs stands in for it otherwise.
/// </summary>
internal static class Deployment
{
    /// <summary>Publishing targets Azure Container Apps: one environment for every resource.</summary>
    public static void AddDeploymentEnvironment(this IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            builder.AddAzureContainerAppEnvironment("aca");
        }
    }

    /// <summary>
    /// Azure Database for PostgreSQL flexible server: a PostgreSQL container on an Azure Files
    /// (SMB) volume is not reliable. Password authentication keeps the services on plain Npgsql
    /// connection strings.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddPublishedMetadataDatabase(
        this IDistributedApplicationBuilder builder, string serverName, string databaseName) =>
        builder.AddAzurePostgresFlexibleServer(serverName)
            .WithPasswordAuthentication()
            .AddDatabase(databaseName);

    /// <summary>
    /// A node's chunks outlive the node: <paramref name="localDirectory"/> locally, an Azure
    /// Files share on ACA with the app pinned to exactly one replica.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithNodeDataDirectory(this IResourceBuilder<ProjectResource> node, string name, string localDirectory)
    {
        if (!node.ApplicationBuilder.ExecutionContext.IsPublishMode)
        {
            return node.WithEnvironment("Node__DataDir", localDirectory);
        }

        // Projects have no WithVolume: the ACA publisher turns a mount annotation on any
        // compute resource into an Azure Files share mounted into the app.
        var dataDirectory = "/data";
        return node.WithEnvironment("Node__DataDir", dataDirectory)
            .WithAnnotation(new ContainerMountAnnotation(name + "-data", dataDirectory, ContainerMountType.Volume, isReadOnly: false))
            .PublishAsAzureContainerApp((infrastructure, app) =>
            {
                // A node is one identity with one disk: never scale it out, never to zero.
                app.Template.Scale.MinReplicas = 1;
                app.Template.Scale.MaxReplicas = 1;
            });
    }
}
