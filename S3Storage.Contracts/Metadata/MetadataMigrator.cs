using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging;
using Npgsql;

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

    public static async Task MigrateAsync(MetadataDbContext db, ILogger logger, CancellationToken cancellationToken)
    {
        var connectionString = db.Database.GetConnectionString()
            ?? throw new InvalidOperationException("The metadata DbContext has no connection string.");

        // The lock lives on its own session: if this process dies mid-migration, PostgreSQL ends
        // the session and releases the lock, and the migration's own transaction rolls back.
        await using var lockConnection = new NpgsqlConnection(connectionString);
        await lockConnection.OpenAsync(cancellationToken);

        var waited = Stopwatch.StartNew();
        await using (var acquire = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", lockConnection))
        {
            acquire.Parameters.AddWithValue("key", AdvisoryLockKey);
            // Waiting on another process's migration can take longer than a command timeout.
            acquire.CommandTimeout = 0;
            await acquire.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            // Asking an empty database for its applied migrations logs a failed query; ask
            // whether the history table exists first.
            var historyExists = await db.GetService<IHistoryRepository>().ExistsAsync(cancellationToken);
            var pending = historyExists
                ? (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList()
                : db.Database.GetMigrations().ToList();
            if (pending.Count == 0)
            {
                LogUpToDate(logger, waited.ElapsedMilliseconds);
                return;
            }

            LogApplying(logger, pending.Count, string.Join(", ", pending));
            var applying = Stopwatch.StartNew();
            await db.Database.MigrateAsync(cancellationToken);
            LogApplied(logger, pending.Count, applying.ElapsedMilliseconds);
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", lockConnection);
            release.Parameters.AddWithValue("key", AdvisoryLockKey);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Metadata schema is up to date (waited {WaitedMs} ms for the migration lock)")]
    private static partial void LogUpToDate(ILogger logger, long waitedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying {Count} metadata migrations: {Migrations}")]
    private static partial void LogApplying(ILogger logger, int count, string migrations);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied {Count} metadata migrations in {ElapsedMs} ms")]
    private static partial void LogApplied(ILogger logger, int count, long elapsedMs);
}
