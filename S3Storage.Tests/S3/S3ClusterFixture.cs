using System.Net.Http.Json;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using S3Storage.Contracts.Access;
using S3Storage.Tests.Cluster;

namespace S3Storage.Tests.S3;

/// <summary>
/// A dev cluster of three nodes for the S3 API, driven by the AWS SDK for .NET as an
/// application would use it (path-style addressing, the SDK's default signing and checksums).
/// Released blobs and abandoned uploads are swept every half second after a second's grace.
/// </summary>
public sealed class S3ClusterFixture : ClusterFixture
{
    protected override int NodeCount => 3;

    protected override IReadOnlyDictionary<string, string?> GatewayOverrides { get; } = new Dictionary<string, string?>
    {
        ["Uploads__CleanupInterval"] = "00:00:00.500",
        ["S3__ReleasedBlobGrace"] = "00:00:01",
        ["S3__AbandonedUploadAge"] = "00:00:30",
        ["Access__CacheDuration"] = "00:00:00",
        ["RateLimits__RequestsPerSecond"] = "10000",
        ["RateLimits__Burst"] = "10000",
    };

    public AccessKeyToken AdminKey => AccessKeyToken.TryParse(Cluster.AdminKey, out var token) ? token : throw new InvalidOperationException("The admin key is not a key.");

    /// <summary>An S3 client of the gateway signing with <paramref name="key"/> (the admin key when null).</summary>
    public AmazonS3Client Client(AccessKeyToken? key = null, Action<AmazonS3Config>? configure = null) =>
        Client((key ?? AdminKey).AccessKeyId, (key ?? AdminKey).Secret, configure);

    public AmazonS3Client Client(string accessKeyId, string secret, Action<AmazonS3Config>? configure = null)
    {
        var config = new AmazonS3Config
        {
            ServiceURL = Cluster.Gateway.Address.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            // A refused request is the answer under test, not something to retry.
            MaxErrorRetry = 0,
            Timeout = TimeSpan.FromMinutes(5),
        };
        configure?.Invoke(config);
        return new AmazonS3Client(new BasicAWSCredentials(accessKeyId, secret), config);
    }

    /// <summary>A new key of <paramref name="role"/>, made through the REST API.</summary>
    public async Task<AccessKeyToken> NewKeyAsync(string role, CancellationToken cancellationToken)
    {
        using var response = await Http.PostAsJsonAsync("/admin/keys", new { name = "s3-" + role, role }, cancellationToken);
        response.EnsureSuccessStatusCode();
        var created = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return new AccessKeyToken(created.GetProperty("access_key_id").GetString()!, created.GetProperty("secret_access_key").GetString()!);
    }

    /// <summary>Rows of a table matching a condition, read straight from PostgreSQL.</summary>
    public async Task<long> CountAsync(string sqlFromWhere, CancellationToken cancellationToken, params object[] values)
    {
        await using var connection = new Npgsql.NpgsqlConnection(Cluster.MetadataConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) " + sqlFromWhere, connection);
        foreach (var value in values)
        {
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = value });
        }

        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}

[CollectionDefinition(Name)]
public sealed class S3ClusterCollection : ICollectionFixture<S3ClusterFixture>
{
    public const string Name = "s3 cluster";
}
