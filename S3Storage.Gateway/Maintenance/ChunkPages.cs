using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Gateway.Maintenance;

/// <summary>A copy of a chunk as a row records it.</summary>
public sealed record CopyState(Guid ServerId, ReplicaStatus Status);

/// <summary>A chunk of a completed file and its recorded copies.</summary>
public sealed record ChunkState(Guid ChunkId, Guid FileId, int ChunkNumber, long ChunkSize, string? ChunkHash, List<CopyState> Copies);

/// <summary>The chunks of completed files, a page at a time in chunk id order.</summary>
public static class ChunkPages
{
    /// <summary>
    /// Keyset paging by chunk id: each page is one index range scan, and a reader holds one page
    /// of rows whatever the number of chunks. (uuid order is PostgreSQL's; LINQ has no "greater
    /// than" for Guid, hence the SQL.)
    /// </summary>
    public static async IAsyncEnumerable<List<ChunkState>> ReadAsync(MetadataDbContext db, int pageSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var after = Guid.Empty;
        while (true)
        {
            var page = await db.Chunks
                .FromSql($"SELECT * FROM chunks WHERE chunk_id > {after}")
                .AsNoTracking()
                .Where(c => c.File!.UploadStatus == UploadStatus.Completed)
                .OrderBy(c => c.ChunkId)
                .Take(pageSize)
                .Select(c => new ChunkState(
                    c.ChunkId,
                    c.FileId,
                    c.ChunkNumber,
                    c.ChunkSize,
                    c.ChunkHash,
                    c.Replicas.Select(r => new CopyState(r.ServerId, r.Status)).ToList()))
                .ToListAsync(cancellationToken);
            if (page.Count == 0)
            {
                yield break;
            }

            yield return page;
            after = page[^1].ChunkId;
        }
    }
}
