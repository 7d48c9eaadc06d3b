namespace S3Storage.Gateway.Files;

// The JSON the API answers with (snake_case on the wire).

public sealed record FileCreated(Guid FileId, string Filename, string ContentType, long Size, string Sha256, int ChunkCount, string Location);

public sealed record FileSummary(Guid FileId, string Filename, string ContentType, long Size, string Status, string? Sha256, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt);

public sealed record FileList(IReadOnlyList<FileSummary> Items, int Page, int PerPage, long Total);

public sealed record UploadProgress(long BytesReceived, long TotalBytes, double Percent);

public sealed record ReplicaDescription(Guid ServerId, string? Name, string? Address, string Status, bool Live);

public sealed record ChunkDescription(int ChunkNumber, Guid ChunkId, long Offset, long Size, string? Sha256, string Status, IReadOnlyList<ReplicaDescription> Replicas);

public sealed record FileMetadata(
    Guid FileId,
    string Filename,
    string ContentType,
    long Size,
    long ChunkSize,
    string Status,
    string? Sha256,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? CompletedAt,
    UploadProgress Progress,
    IReadOnlyList<ChunkDescription> Chunks);
