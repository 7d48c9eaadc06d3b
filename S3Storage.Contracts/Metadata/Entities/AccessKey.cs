namespace S3Storage.Contracts.Metadata.Entities;

/// <summary>What an access key may do. Stored as <c>admin</c>, <c>read-write</c>, <c>read-only</c>.</summary>
public enum AccessRole
{
    /// <summary>Everything: files, keys, nodes, repair.</summary>
    Admin,

    /// <summary>Upload, download, list, delete files.</summary>
    ReadWrite,

    /// <summary>Download, metadata, list.</summary>
    ReadOnly,
}

/// <summary>
/// A client's credential (table <c>access_keys</c>): a public id and a secret. The secret is kept
/// encrypted (ASP.NET Core Data Protection), not hashed: S3's Signature V4 needs it in clear to
/// check a request's HMAC.
/// </summary>
public sealed class AccessKey
{
    public required string AccessKeyId { get; set; }

    public required string Name { get; set; }

    public AccessRole Role { get; set; }

    /// <summary>The secret as Data Protection's ciphertext; never the secret itself.</summary>
    public required string ProtectedSecret { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? LastUsedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}
