using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace S3Storage.Contracts.Metadata;

/// <summary>
/// Work that exactly one process of the cluster may do at a time (a migration, creating the
/// first key of a shared key ring), under a PostgreSQL session-level advisory lock.
/// </summary>
public static class AdvisoryLock
{
    /// <summary>
    /// Takes the lock <paramref name="key"/> on the context's own session, runs
    /// <paramref name="work"/> (which may use the context), and releases the lock. If the
    /// process dies meanwhile, PostgreSQL ends the session, which releases the lock.
    /// </summary>
    public static async Task RunAsync(MetadataDbContext db, long key, Func<Task> work, CancellationToken cancellationToken) =>
        await RunAsync(db, key, wait: true, work, cancellationToken);

    /// <summary>
    /// Like <see cref="RunAsync(MetadataDbContext, long, Func{Task}, CancellationToken)"/>, but
    /// when another session holds the lock, returns false at once instead of waiting for it.
    /// </summary>
    public static Task<bool> TryRunAsync(MetadataDbContext db, long key, Func<Task> work, CancellationToken cancellationToken) =>
        RunAsync(db, key, wait: false, work, cancellationToken);

    private static async Task<bool> RunAsync(MetadataDbContext db, long key, bool wait, Func<Task> work, CancellationToken cancellationToken)
    {
        // The context's own session, not a second connection: no connection string read back
        // from the context (one built on a data source has dropped its password by then).
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            var session = (NpgsqlConnection)db.Database.GetDbConnection();
            await using (var acquire = new NpgsqlCommand(wait ? "SELECT pg_advisory_lock(@key)" : "SELECT pg_try_advisory_lock(@key)", session))
            {
                acquire.Parameters.AddWithValue("key", key);
                // Waiting on another process's work can take longer than a command timeout.
                acquire.CommandTimeout = 0;
                var acquired = await acquire.ExecuteScalarAsync(cancellationToken);
                if (!wait && acquired is false)
                {
                    return false;
                }
            }

            try
            {
                await work();
            }
            finally
            {
                await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", session);
                release.Parameters.AddWithValue("key", key);
                await release.ExecuteNonQueryAsync(CancellationToken.None);
            }

            return true;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}
