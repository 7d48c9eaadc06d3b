using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Npgsql;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Files;
using S3Storage.Tests.Infrastructure;

namespace S3Storage.Tests.Metadata;

/// <summary>
/// Listing pages on a real PostgreSQL with more files than the exact-count limit, many of them
/// sharing a creation time, so the id must break ties for cursors to be exact.
/// </summary>
public sealed class FileListingTests(MetadataDatabase database) : IClassFixture<MetadataDatabase>, IAsyncLifetime
{
    private const int Files = 1500;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Cancel);
        if (await new NpgsqlCommand("SELECT count(*) FROM files", connection).ExecuteScalarAsync(Cancel) is > 0L)
        {
            return;
        }

        // Three creation times for 1,500 files; every third file failed, the rest completed.
        await using var insert = new NpgsqlCommand(
            $"""
            INSERT INTO files (file_id, filename, content_type, total_size, chunk_size, num_chunks, upload_status, checksum, created_at, completed_at)
            SELECT gen_random_uuid(), 'file-' || i, 'application/octet-stream', 6, 1, 6,
                   CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'completed' END,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('ab', 32) END,
                   timestamptz '2026-01-01 00:00:00+00' + (i % 3) * interval '1 second',
                   CASE WHEN i % 3 = 0 THEN NULL ELSE now() END
            FROM generate_series(1, {Files}) AS i;
            ANALYZE files;
            """,
            connection);
        await insert.ExecuteNonQueryAsync(Cancel);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Cursor_pages_walk_every_file_once_in_the_order_of_the_offset_pages()
    {
        var byCursor = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await ListAsync(new FileListQuery(null, cursor is null ? null : Decode(cursor), 100, null, false));
            Assert.Equal(cursor is null ? 1 : null, page.Page);
            Assert.True(page.Items.Count <= 100);
            byCursor.AddRange(page.Items.Select(f => f.FileId));
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(15, pages);
        Assert.Equal(Files, byCursor.Count);
        Assert.Equal(Files, byCursor.Distinct().Count());

        var byOffset = new List<Guid>();
        for (var number = 1; number <= 15; number++)
        {
            var page = await ListAsync(new FileListQuery(number, null, 100, null, false));
            Assert.Equal(number, page.Page);
            Assert.Equal(number < 15, page.NextCursor is not null);
            byOffset.AddRange(page.Items.Select(f => f.FileId));
        }

        Assert.Equal(byOffset, byCursor);
        await using var db = database.CreateContext();
        var expected = await db.Files.OrderByDescending(f => f.CreatedAt).ThenByDescending(f => f.FileId).Select(f => f.FileId).ToListAsync(Cancel);
        // PostgreSQL orders uuids by their bytes; the listing must follow the database's order.
        Assert.Equal(expected, byCursor);
    }

    [Fact]
    public async Task A_cursor_page_with_a_status_holds_only_that_status()
    {
        var seen = new List<FileSummary>();
        string? cursor = null;
        do
        {
            var page = await ListAsync(new FileListQuery(null, cursor is null ? null : Decode(cursor), 333, UploadStatus.Failed, false));
            seen.AddRange(page.Items);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(Files / 3, seen.Count);
        Assert.All(seen, f => Assert.Equal("failed", f.Status));
    }

    [Fact]
    public async Task Totals_are_exact_up_to_the_limit_estimated_past_it_and_exact_when_asked()
    {
        var failed = await ListAsync(new FileListQuery(1, null, 10, UploadStatus.Failed, false));
        Assert.True(failed.TotalExact);
        Assert.Equal(Files / 3, failed.Total);

        var all = await ListAsync(new FileListQuery(1, null, 10, null, false));
        Assert.False(all.TotalExact);
        // The planner's estimate after ANALYZE, never below what was counted.
        Assert.InRange(all.Total, FileListing.ExactTotalUpTo + 1, Files * 2);

        var exact = await ListAsync(new FileListQuery(1, null, 10, null, true));
        Assert.True(exact.TotalExact);
        Assert.Equal(Files, exact.Total);
    }

    [Fact]
    public void A_cursor_survives_encoding_and_anything_else_is_refused()
    {
        var cursor = new FileListCursor(new DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero).AddTicks(10), Guid.CreateVersion7());
        Assert.True(FileListCursor.TryDecode(cursor.Encode(), out var decoded));
        Assert.Equal(cursor, decoded);
        foreach (var bad in new[] { "", "x", cursor.Encode()[..^1], cursor.Encode() + "A", new string('!', 32), "////////////////////////////////" })
        {
            Assert.False(FileListCursor.TryDecode(bad, out _), bad);
        }
    }

    private static FileListCursor Decode(string cursor) =>
        FileListCursor.TryDecode(cursor, out var decoded) ? decoded : throw new InvalidOperationException($"Bad cursor {cursor}");

    private async Task<FileList> ListAsync(FileListQuery query)
    {
        await using var db = database.CreateContext();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        return await new FileListing(db, cache).ListAsync(query, Cancel);
    }
}
