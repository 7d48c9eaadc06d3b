namespace S3Storage.Contracts.Metadata.Entities;

/// <summary>Where a copy of a chunk lives (table <c>chunk_replicas</c>): recorded where it really is, not where the ring says.</summary>
public sealed class ChunkReplica
{
    public Guid ChunkId { get; set; }

    public Guid ServerId { get; set; }

    public ReplicaStatus Status { get; set; } = ReplicaStatus.Pending;

    /// <summary>Set by the database.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the node last confirmed the bytes (acknowledged put, verified read or scrub).</summary>
    public DateTimeOffset? VerifiedAt { get; set; }

    public StoredChunk? Chunk { get; set; }

    public StorageServer? Server { get; set; }
}
