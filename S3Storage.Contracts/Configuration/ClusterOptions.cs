using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;

namespace S3Storage.Contracts.Configuration;

/// <summary>
/// The credential the gateway presents on every call to a node, and the node demands (section
/// <c>Cluster</c>, env <c>Cluster__Secret</c>). Shared by the cluster's processes only: a node's
/// port reached from anywhere else refuses every call but the health probe.
/// </summary>
public sealed class ClusterOptions
{
    public const string SectionName = "Cluster";

    /// <summary>The gRPC metadata entry that carries the secret.</summary>
    public const string HeaderName = "s3storage-cluster-secret";

    public const int MinSecretLength = 32;

    // The messages never show the value: it is a secret.
    [Required(ErrorMessage = "Cluster:Secret is not set: give the gateway and every node the same secret of at least 32 characters (environment variable Cluster__Secret).")]
    [MinLength(MinSecretLength, ErrorMessage = "Cluster:Secret is too short: it must have at least 32 characters.")]
    [RegularExpression("^[\\x21-\\x7E]+$", ErrorMessage = "Cluster:Secret may contain only printable ASCII characters without spaces (it travels in a gRPC header).")]
    public string Secret { get; set; } = "";

    /// <summary>Constant-time: how long a comparison takes says nothing about the secret.</summary>
    public bool Matches(string? presented) =>
        presented is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(Secret)));

    public static string Generate() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
}
