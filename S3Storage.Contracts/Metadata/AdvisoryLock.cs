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
    public static async Task RunAsync(MetadataDbContext db, long key, Func<Task> work, CancellationToken cancellationToken)
    {
        // The context's own session, not a second connection: no connection string read back
        // from the context (one built on a data source has dropped its password by then).
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            var session = (NpgsqlConnection)db.Database.GetDbConnection();
            await using (var acquire = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", session))
            {
                acquire.Parameters.AddWithValue("key", key);
                // Waiting on another process's work can take longer than a command timeout.
                acquire.CommandTimeout = 0;
                await acquire.ExecuteNonQueryAsync(cancellationToken);
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
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}
