using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using S3Storage.Contracts.Metadata;
using S3Storage.DevCluster.Postgres;

[assembly: AssemblyFixture(typeof(S3Storage.Tests.Infrastructure.PostgresServerFixture))]

namespace S3Storage.Tests.Infrastructure;

/// <summary>
/// One throwaway PostgreSQL server for the whole test run, started from the machine's own
/// binaries, with a migrated template database that each test class copies.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    public const string TemplateDatabase = "metadata_template";

    private readonly SemaphoreSlim _createDatabase = new(1, 1);
    private LocalPostgresServer? _server;

    public LocalPostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture has not started.");

    public async ValueTask InitializeAsync()
    {
        // Tests may lose data on a crash; fsync off saves seconds per run. Password
        // authentication as in any deployment, so code that drops the password fails here.
        _server = await LocalPostgresServer.StartAsync(
            new LocalPostgresOptions { Durable = false, Password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) },
            TestContext.Current.CancellationToken);
        await _server.CreateDatabaseAsync(TemplateDatabase);

        // No pooling: CREATE DATABASE ... TEMPLATE fails while any session is connected to the template.
        await using var db = CreateContext(_server.ConnectionString(TemplateDatabase, pooling: false));
        await MetadataMigrator.MigrateAsync(db, NullLogger.Instance, TestContext.Current.CancellationToken);
    }

    /// <summary>A new database holding the migrated schema and no rows.</summary>
    public async Task<string> CreateMigratedDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)].ToLowerInvariant();
        // PostgreSQL copies a template only while nothing else copies it.
        await _createDatabase.WaitAsync();
        try
        {
            await Server.CreateDatabaseAsync(name, TemplateDatabase);
        }
        finally
        {
            _createDatabase.Release();
        }

        return Server.ConnectionString(name);
    }

    /// <summary>An empty database with no schema at all.</summary>
    public async Task<string> CreateEmptyDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}".ToLowerInvariant();
        await Server.CreateDatabaseAsync(name);
        return Server.ConnectionString(name);
    }

    public static MetadataDbContext CreateContext(string connectionString) =>
        new(new DbContextOptionsBuilder<MetadataDbContext>()
            .UseNpgsql(connectionString, npgsql => npgsql.EnableRetryOnFailure())
            .Options);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _createDatabase.Dispose();
    }
}
