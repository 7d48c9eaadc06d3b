using Npgsql;

namespace S3Storage.Gateway.Errors;

/// <summary>Which exceptions mean the metadata database could not be reached, as opposed to a bug or a refused statement.</summary>
public static class DatabaseFaults
{
    /// <summary>A connection that failed, was cut or timed out, anywhere in the chain (EF wraps it in its own exceptions).</summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is NpgsqlException { IsTransient: true } or TimeoutException)
            {
                return true;
            }
        }

        return false;
    }

    public static StoreException Unavailable(Exception inner) =>
        new(StoreFailure.DatabaseUnavailable, "The metadata database is unavailable", "The store cannot reach its metadata database just now.", inner);
}
