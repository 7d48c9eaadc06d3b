using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Downloads;

namespace S3Storage.Gateway.Files;

/// <summary>Reads of file metadata, shaped for the API.</summary>
public sealed class FileCatalog(MetadataDbContext db, ClusterView cluster)
{
    /// <summary>The file with its chunks and copies; a blob of an S3 object or part only when <paramref name="includeS3Blobs"/> (admin keys).</summary>
    public Task<StoredFile?> FindAsync(Guid fileId, bool includeS3Blobs, CancellationToken cancellationToken) =>
        (includeS3Blobs ? db.Files.AsNoTracking() : WithoutS3Blobs(db, db.Files.AsNoTracking()))
            .Include(f => f.Chunks.OrderBy(c => c.ChunkNumber))
            .ThenInclude(c => c.Replicas)
            // One round trip: six chunks with two or three copies each is a dozen joined rows,
            // cheaper than three statements on a busy database.
            .AsSingleQuery()
            .SingleOrDefaultAsync(f => f.FileId == fileId, cancellationToken);

    /// <summary>
    /// Files that are not the blob of an S3 object or multipart part: who reads those is decided
    /// by bucket grants, which <c>/files</c> does not know, so only admin keys see them there.
    /// </summary>
    public static IQueryable<StoredFile> WithoutS3Blobs(MetadataDbContext db, IQueryable<StoredFile> files) =>
        files.Where(f => !db.ObjectBlobs.Any(b => b.FileId == f.FileId) && !db.MultipartParts.Any(p => p.FileId == f.FileId));

    /// <summary>
    /// Each chunk with its stored copies, readable nodes first; among those the order is a hash
    /// of chunk and server, so reads of one chunk always try the same copy first (its node's
    /// page cache stays warm) while different chunks spread over their nodes.
    /// </summary>
    public IReadOnlyList<ChunkCopies> ReadPlan(StoredFile file)
    {
        var snapshot = cluster.Current;
        return file.Chunks.OrderBy(c => c.ChunkNumber).Select(chunk => new ChunkCopies(
            chunk.ChunkId,
            chunk.ChunkNumber,
            chunk.ChunkSize,
            chunk.ChunkHash ?? "",
            chunk.Replicas
                .Where(r => r.Status == ReplicaStatus.Stored)
                .Select(r => snapshot.Node(r.ServerId))
                .OfType<NodeInfo>()
                .OrderByDescending(n => n.Readable)
                .ThenBy(n => ReadPreference(chunk.ChunkId, n.ServerId))
                .ToList())).ToList();
    }

    public static uint ReadPreference(Guid chunkId, Guid serverId) => Contracts.Placement.HashRing.Hash($"{chunkId:D}#{serverId:D}");

    public async Task<FileMetadata> DescribeAsync(StoredFile file, CancellationToken cancellationToken)
    {
        var snapshot = cluster.Current;
        var received = file.UploadStatus == UploadStatus.Completed
            ? file.TotalSize
            : await db.UploadSessions.AsNoTracking().Where(s => s.FileId == file.FileId).MaxAsync(s => (long?)s.BytesReceived, cancellationToken) ?? 0;
        var offset = 0L;
        var chunks = new List<ChunkDescription>();
        foreach (var chunk in file.Chunks.OrderBy(c => c.ChunkNumber))
        {
            chunks.Add(new ChunkDescription(
                chunk.ChunkNumber,
                chunk.ChunkId,
                offset,
                chunk.ChunkSize,
                chunk.ChunkHash,
                Name(chunk.UploadStatus),
                chunk.Replicas.OrderBy(r => snapshot.Node(r.ServerId)?.Name).Select(r =>
                {
                    var node = snapshot.Node(r.ServerId);
                    return new ReplicaDescription(r.ServerId, node?.Name, node?.Address, Name(r.Status), node?.Live ?? false);
                }).ToList()));
            offset += chunk.ChunkSize;
        }

        var percent = file.TotalSize == 0 ? (file.UploadStatus == UploadStatus.Completed ? 100 : 0) : Math.Round(100.0 * received / file.TotalSize, 2);
        return new FileMetadata(
            file.FileId, file.Filename, file.ContentType, file.TotalSize, file.ChunkSize, Name(file.UploadStatus), file.Checksum,
            file.CreatedAt, file.UpdatedAt, file.CompletedAt, new UploadProgress(received, file.TotalSize, percent), chunks);
    }

    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}
