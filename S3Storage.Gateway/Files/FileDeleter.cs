using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Cluster;

namespace S3Storage.Gateway.Files;

public enum DeleteOutcome
{
    Deleted,
    NotFound,
    UploadInProgress,

    /// <summary>The file is a blob of an S3 object or of a multipart upload's part.</summary>
    InUse,
}

/// <summary>
/// Deletes a file: rows first (so it can never be served half-deleted), then its chunk copies
/// on the nodes, best effort; what a down node keeps is an orphan for garbage collection.
/// </summary>
public sealed partial class FileDeleter(MetadataDbContext db, ChunkRemover remover, ILogger<FileDeleter> logger)
{
    public async Task<DeleteOutcome> DeleteAsync(Guid fileId, CancellationToken cancellationToken)
    {
        var file = await db.Files.AsNoTracking()
            .Include(f => f.Chunks).ThenInclude(c => c.Replicas)
            .Include(f => f.Sessions)
            .AsSplitQuery()
            .SingleOrDefaultAsync(f => f.FileId == fileId, cancellationToken);
        if (file is null)
        {
            return DeleteOutcome.NotFound;
        }

        if (file.UploadStatus is UploadStatus.Pending or UploadStatus.Uploading && file.Sessions.Any(s => s.Status == SessionStatus.Active))
        {
            return DeleteOutcome.UploadInProgress;
        }

        var copies = file.Chunks.SelectMany(c => c.Replicas).Select(r => new ReplicaToRemove(r.ChunkId, r.ServerId)).ToList();
        try
        {
            if (await db.Files.Where(f => f.FileId == fileId).ExecuteDeleteAsync(cancellationToken) == 0)
            {
                return DeleteOutcome.NotFound;
            }
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.ForeignKeyViolation)
        {
            // object_blobs and multipart_parts refuse to lose their blob.
            return DeleteOutcome.InUse;
        }

        var removed = await remover.RemoveAsync(copies, CancellationToken.None);
        LogDeleted(logger, fileId, file.Filename, removed, copies.Count);
        return DeleteOutcome.Deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted file {FileId} ({Filename}); {Removed} of {Copies} chunk copies removed from the nodes")]
    private static partial void LogDeleted(ILogger logger, Guid fileId, string filename, int removed, int copies);
}
