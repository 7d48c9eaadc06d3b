using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Gateway.Files;

// The JSON the API answers with (snake_case on the wire).

public sealed record FileCreated(Guid FileId, string Filename, string ContentType, long Size, string Sha256, int ChunkCount, string Location);

public sealed record FileSummary(Guid FileId, string Filename, string ContentType, long Size, string Status, string? Sha256, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt);

/// <summary>
/// A page of files. <c>Page</c> is null when the page was asked for by cursor. <c>Total</c> is
/// exact when <c>TotalExact</c>; past <see cref="FileListing.ExactTotalUpTo"/> files it is the
/// planner's estimate unless the exact count was asked for. <c>NextCursor</c> is null on the last page.
/// </summary>
public sealed record FileList(IReadOnlyList<FileSummary> Items, int? Page, int PerPage, long Total, bool TotalExact, string? NextCursor);

/// <summary>What a listing asks for: a page number (offset) or a cursor (keyset), never both.</summary>
/// <param name="IncludeS3Blobs">Whether the blobs of S3 objects and parts are listed: for admin keys only, since bucket grants decide who reads those.</param>
public sealed record FileListQuery(int? Page, FileListCursor? Cursor, int PerPage, UploadStatus? Status, bool ExactTotal, bool IncludeS3Blobs = false);

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
