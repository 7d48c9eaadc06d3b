using S3Storage.Contracts.Access;

namespace S3Storage.AppHost;

/// <summary>
/// The two secrets the cluster is started with, as secret parameters (masked in the dashboard):
/// <c>admin-key</c>, the gateway's first admin key, and <c>cluster-secret</c>, which the
/// gateway presents to the nodes on every call. When run, both are generated once and kept in
/// the AppHost's user secrets (<c>dotnet user-secrets list --project S3Storage.AppHost</c>).
/// </summary>
internal static class ClusterSecrets
{
    public const string AdminKeyName = "admin-key";
    public const string ClusterSecretName = "cluster-secret";

    public static IResourceBuilder<ParameterResource> AddAdminKey(this IDistributedApplicationBuilder builder) =>
        // Published, the deployment asks the operator for the key (make one with
        // `dotnet run --project eng/DevCluster -- new-key`): a generated value would not have
        // the token's shape, and nobody would know it.
        builder.ExecutionContext.IsPublishMode
            ? builder.AddParameter(AdminKeyName, secret: true)
            : builder.AddParameter(AdminKeyName, new AccessKeyTokenDefault(), secret: true, persist: true);

    public static IResourceBuilder<ParameterResource> AddClusterSecret(this IDistributedApplicationBuilder builder) =>
        builder.AddParameter(ClusterSecretName, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true);

    /// <summary>A fresh access key token (<c>s3s_…</c>) as a parameter's default.</summary>
    private sealed class AccessKeyTokenDefault : ParameterDefault
    {
        public override string GetDefaultValue() => AccessKeyToken.Generate().Value;

        public override void WriteToManifest(Aspire.Hosting.Publishing.ManifestPublishingContext context) =>
            throw new InvalidOperationException("The admin key has no default in a published manifest: the operator gives it.");
    }
}
