using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Gateway.Files;

/// <summary>
/// Pages of files, newest first. A page by cursor costs the same at any depth; a page by
/// number (offset) is kept for existing clients and grows with its depth.
/// </summary>
public sealed class FileListing(MetadataDbContext db, IMemoryCache cache)
{
    /// <summary>How long the planner's estimate of a large total is reused before it is asked again.</summary>
    private static readonly TimeSpan EstimateLifetime = TimeSpan.FromSeconds(5);

    /// <summary>Up to this many matching files the total is counted exactly; past it, estimated.</summary>
    public const int ExactTotalUpTo = 1000;

    public async Task<FileList> ListAsync(FileListQuery request, CancellationToken cancellationToken)
    {
        var matching = db.Files.AsNoTracking();
        if (!request.IncludeS3Blobs)
        {
            matching = FileCatalog.WithoutS3Blobs(db, matching);
        }

        if (request.Status is { } wanted)
        {
            matching = matching.Where(f => f.UploadStatus == wanted);
        }

        // Newest first, the id breaking ties, so a cursor names one position exactly; the
        // (created_at, file_id) indexes serve both the order and the row comparison.
        var page = matching.OrderByDescending(f => f.CreatedAt).ThenByDescending(f => f.FileId).AsQueryable();
        if (request.Cursor is { } cursor)
        {
            page = page.Where(f => EF.Functions.LessThan(ValueTuple.Create(f.CreatedAt, f.FileId), ValueTuple.Create(cursor.CreatedAt, cursor.FileId)));
        }
        else if (request.Page is > 1 and var number)
        {
            page = page.Skip((number - 1) * request.PerPage);
        }

        // One row past the page says whether another page follows.
        var rows = await page
            .Take(request.PerPage + 1)
            .Select(f => new { f.FileId, f.Filename, f.ContentType, f.TotalSize, f.UploadStatus, f.Checksum, f.CreatedAt, f.CompletedAt })
            .ToListAsync(cancellationToken);
        var items = rows.Take(request.PerPage)
            .Select(f => new FileSummary(f.FileId, f.Filename, f.ContentType, f.TotalSize, FileCatalog.Name(f.UploadStatus), f.Checksum, f.CreatedAt, f.CompletedAt))
            .ToList();
        var next = rows.Count > request.PerPage ? new FileListCursor(items[^1].CreatedAt, items[^1].FileId).Encode() : null;
        var (total, exact) = await CountAsync(matching, request, cancellationToken);
        return new FileList(items, request.Cursor is null ? request.Page ?? 1 : null, request.PerPage, total, exact, next);
    }

    /// <summary>
    /// count(*) reads every matching row: at a million files that is most of a listing's cost.
    /// So it counts at most <see cref="ExactTotalUpTo"/> + 1 rows and, past that, asks the
    /// planner for its estimate, unless the caller asked for the exact figure. A large total's
    /// estimate is kept for a few seconds, so a busy listing of a large store costs one query.
    /// </summary>
    private async Task<(long Total, bool Exact)> CountAsync(IQueryable<StoredFile> matching, FileListQuery request, CancellationToken cancellationToken)
    {
        if (request.ExactTotal)
        {
            return (await matching.LongCountAsync(cancellationToken), true);
        }

        var key = (typeof(FileListing), request.Status, request.IncludeS3Blobs);
        if (cache.TryGetValue(key, out long estimated))
        {
            return (estimated, false);
        }

        var counted = await matching.Take(ExactTotalUpTo + 1).CountAsync(cancellationToken);
        if (counted <= ExactTotalUpTo)
        {
            return (counted, true);
        }

        estimated = Math.Max(counted, await EstimateAsync(request.Status, cancellationToken));
        cache.Set(key, estimated, EstimateLifetime);
        return (estimated, false);
    }

    private async Task<long> EstimateAsync(UploadStatus? status, CancellationToken cancellationToken)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "EXPLAIN (FORMAT JSON) SELECT 1 FROM files" + (status is null ? "" : " WHERE upload_status = @status");
            if (status is { } wanted)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = "status";
                parameter.Value = FileCatalog.Name(wanted);
                command.Parameters.Add(parameter);
            }

            var plan = (string?)await command.ExecuteScalarAsync(cancellationToken);
            using var json = JsonDocument.Parse(plan ?? "[]");
            return json.RootElement.EnumerateArray().Select(p => (long)p.GetProperty("Plan").GetProperty("Plan Rows").GetDouble()).FirstOrDefault();
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}
