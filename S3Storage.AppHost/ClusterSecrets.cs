using S3Storage.Contracts.Access;

namespace S3Storage.AppHost;

/// <summary>
/// What the cluster is started with, as parameters: the gateway's first admin key, as the two
/// values an S3 client is configured with (<c>aws-access-key-id</c>, shown in the dashboard,
/// and <c>aws-secret-access-key</c>, masked), which make the REST token
/// <c>s3s_&lt;id&gt;_&lt;secret&gt;</c>; and <c>cluster-secret</c>, which the gateway presents to
/// the nodes on every call. When run, all are generated once and kept in the AppHost's user
/// secrets (<c>dotnet user-secrets list --project S3Storage.AppHost</c>).
/// </summary>
internal static class ClusterSecrets
{
    public const string AdminKeyIdName = "aws-access-key-id";
    public const string AdminSecretName = "aws-secret-access-key";
    public const string ClusterSecretName = "cluster-secret";

    /// <summary>The admin key's two parameters and the token the gateway is given (<c>Access__AdminKey</c>).</summary>
    public sealed record AdminKey(IResourceBuilder<ParameterResource> KeyId, IResourceBuilder<ParameterResource> Secret)
    {
        public ReferenceExpression Token => ReferenceExpression.Create($"{AccessKeyToken.Prefix}{KeyId.Resource}_{Secret.Resource}");
    }

    public static AdminKey AddAdminKey(this IDistributedApplicationBuilder builder) =>
        // Published, the deployment asks the operator for both (make a key with
        // `dotnet run --project eng/DevCluster -- new-key` and give its two parts): a generated
        // value would not have the key's shape, and nobody would know it.
        builder.ExecutionContext.IsPublishMode
            ? new AdminKey(builder.AddParameter(AdminKeyIdName), builder.AddParameter(AdminSecretName, secret: true))
            : new AdminKey(
                builder.AddParameter(AdminKeyIdName, new AccessKeyDefault(token => token.AccessKeyId), secret: false, persist: true)
                    .WithDescription("The admin key's id: AWS_ACCESS_KEY_ID for S3 tools against the gateway; the REST token is s3s_<id>_<secret>."),
                builder.AddParameter(AdminSecretName, new AccessKeyDefault(token => token.Secret), secret: true, persist: true)
                    .WithDescription("The admin key's secret: AWS_SECRET_ACCESS_KEY for S3 tools against the gateway."));

    public static IResourceBuilder<ParameterResource> AddClusterSecret(this IDistributedApplicationBuilder builder) =>
        builder.AddParameter(ClusterSecretName, new GenerateParameterDefault { MinLength = 48, Special = false }, secret: true, persist: true);

    /// <summary>A part of a fresh access key as a parameter's default (each part is random on its own).</summary>
    private sealed class AccessKeyDefault(Func<AccessKeyToken, string> part) : ParameterDefault
    {
        public override string GetDefaultValue() => part(AccessKeyToken.Generate());

        public override void WriteToManifest(Aspire.Hosting.Publishing.ManifestPublishingContext context) =>
            throw new InvalidOperationException("The admin key has no default in a published manifest: the operator gives it.");
    }
}
