using Microsoft.EntityFrameworkCore;
using Npgsql;
using S3Storage.Contracts.Metadata;

namespace S3Storage.Gateway.Files;

/// <summary>Reads written against Npgsql for the hot paths, where EF Core's query pipeline cost more CPU than the read.</summary>
public static class DirectReads
{
    /// <summary>
    /// Runs <paramref name="read"/> on the context's own connection, opened for it, and repeats it
    /// on a transient failure as EF's own statements are (the metadata store's execution
    /// strategy), so a lost database still ends in the same 503.
    /// </summary>
    public static Task<T> ReadDirectAsync<T>(this MetadataDbContext db, Func<NpgsqlConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        db.Database.CreateExecutionStrategy().ExecuteAsync(
            async ct =>
            {
                await db.Database.OpenConnectionAsync(ct);
                try
                {
                    return await read((NpgsqlConnection)db.Database.GetDbConnection(), ct);
                }
                finally
                {
                    await db.Database.CloseConnectionAsync();
                }
            },
            cancellationToken);
}
