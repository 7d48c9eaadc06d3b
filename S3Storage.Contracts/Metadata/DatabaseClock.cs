namespace S3Storage.Contracts.Metadata;

/// <summary>The database server's clock, usable inside LINQ queries (translated to <c>now()</c>).</summary>
public static class DatabaseClock
{
    public static DateTimeOffset Now() =>
        throw new InvalidOperationException("DatabaseClock.Now() runs only inside a database query.");
}
