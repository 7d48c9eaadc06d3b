using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging;

namespace S3Storage.Contracts.Metadata;

/// <summary>
/// Applies pending migrations while holding a PostgreSQL advisory lock, so the gateway and six
/// nodes starting at once apply them exactly once: the first migrates, the others wait and
/// then find nothing left to do.
/// </summary>
public static partial class MetadataMigrator
{
    /// <summary>Advisory lock key: the ASCII bytes of "S3SMIGRT". Any other user of the database must not take it.</summary>
    public const long AdvisoryLockKey = 0x5333534D49475254;

    public static Task MigrateAsync(MetadataDbContext db, ILogger logger, CancellationToken cancellationToken)
    {
        // If this process dies mid-migration, PostgreSQL ends the session, which releases the
        // lock and rolls the migration's transaction back.
        var waited = Stopwatch.StartNew();
        return AdvisoryLock.RunAsync(db, AdvisoryLockKey, async () =>
        {
            // EF finds out whether its history table exists by querying it, which on an empty
            // database leaves "relation __EFMigrationsHistory does not exist" errors in the
            // server log (twice: once for the pending list, once inside MigrateAsync).
            // Created first, it always exists.
            var history = db.GetService<IHistoryRepository>();
            await db.Database.ExecuteSqlRawAsync(history.GetCreateIfNotExistsScript(), cancellationToken);
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            if (pending.Count == 0)
            {
                LogUpToDate(logger, waited.ElapsedMilliseconds);
                return;
            }

            LogApplying(logger, pending.Count, string.Join(", ", pending));
            var applying = Stopwatch.StartNew();
            await db.Database.MigrateAsync(cancellationToken);
            LogApplied(logger, pending.Count, applying.ElapsedMilliseconds);
        }, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Metadata schema is up to date (waited {WaitedMs} ms for the migration lock)")]
    private static partial void LogUpToDate(ILogger logger, long waitedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying {Count} metadata migrations: {Migrations}")]
    private static partial void LogApplying(ILogger logger, int count, string migrations);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied {Count} metadata migrations in {ElapsedMs} ms")]
    private static partial void LogApplied(ILogger logger, int count, long elapsedMs);
}
