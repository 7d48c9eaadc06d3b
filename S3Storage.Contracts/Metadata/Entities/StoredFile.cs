namespace S3Storage.Contracts.Metadata.Entities;

/// <summary>A file as the store knows it (table <c>files</c>).</summary>
public sealed class StoredFile
{
    public Guid FileId { get; set; }

    public required string Filename { get; set; }

    public string ContentType { get; set; } = "application/octet-stream";

    public long TotalSize { get; set; }

    public long ChunkSize { get; set; }

    public int NumChunks { get; set; } = Placement.ChunkPlanner.ChunksPerFile;

    public UploadStatus UploadStatus { get; set; } = UploadStatus.Pending;

    /// <summary>Lowercase hex SHA-256 of the whole file; known once the upload completes.</summary>
    public string? Checksum { get; set; }

    /// <summary>User metadata as a JSON object (jsonb).</summary>
    public string? Metadata { get; set; }

    /// <summary>Set by the database.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Set by the database on every insert and update (trigger).</summary>
    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    public List<StoredChunk> Chunks { get; set; } = [];

    public List<UploadSession> Sessions { get; set; } = [];
}
