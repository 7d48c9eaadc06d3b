using S3Storage.Contracts.Metadata;

namespace S3Storage.Tests.Infrastructure;

/// <summary>A freshly migrated database of its own for one test class.</summary>
public sealed class MetadataDatabase(PostgresServerFixture postgres) : IAsyncLifetime
{
    private string? _connectionString;

    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("The database has not been created.");

    public async ValueTask InitializeAsync() => _connectionString = await postgres.CreateMigratedDatabaseAsync("test");

    public MetadataDbContext CreateContext() => PostgresServerFixture.CreateContext(ConnectionString);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
