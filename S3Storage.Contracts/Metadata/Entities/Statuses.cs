namespace S3Storage.Contracts.Metadata.Entities;

// Stored as lowercase text with a CHECK constraint listing the values (see MetadataDbContext).

public enum UploadStatus
{
    Pending,
    Uploading,
    Completed,
    Failed,
}

public enum ReplicaStatus
{
    /// <summary>Being written; not yet acknowledged by the node.</summary>
    Pending,

    /// <summary>The node acknowledged the chunk after verifying its hash and fsyncing it.</summary>
    Stored,

    /// <summary>The node no longer has it (wiped, deleted, or never finished).</summary>
    Missing,

    /// <summary>The node holds bytes that fail their hash.</summary>
    Corrupt,
}

public enum ServerStatus
{
    Active,
    Inactive,
    Draining,
}

public enum SessionStatus
{
    Active,
    Completed,
    Expired,
    Cancelled,
}
