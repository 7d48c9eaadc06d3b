namespace S3Storage.Contracts.Metadata.Entities;

/// <summary>One of a file's six chunks (table <c>chunks</c>).</summary>
public sealed class StoredChunk
{
    public Guid ChunkId { get; set; }

    public Guid FileId { get; set; }

    public int ChunkNumber { get; set; }

    public long ChunkSize { get; set; }

    /// <summary>Lowercase hex SHA-256 of the chunk; known once its bytes have passed the gateway.</summary>
    public string? ChunkHash { get; set; }

    public UploadStatus UploadStatus { get; set; } = UploadStatus.Pending;

    public DateTimeOffset? UploadedAt { get; set; }

    public StoredFile? File { get; set; }

    public List<ChunkReplica> Replicas { get; set; } = [];
}
