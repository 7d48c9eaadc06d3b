using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using S3Storage.Contracts.Metadata;
using S3Storage.Tests.Infrastructure;

namespace S3Storage.Tests.Metadata;

public sealed class MigrationTests(PostgresServerFixture postgres, ITestOutputHelper output)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_migrations_describe_the_current_model()
    {
        await using var db = PostgresServerFixture.CreateContext(postgres.Server.ConnectionString("postgres"));
        Assert.False(db.Database.HasPendingModelChanges(), "the model changed without a migration: run dotnet ef migrations add");
    }

    [Fact]
    public async Task Migrating_an_empty_database_creates_every_table_constraint_index_and_trigger()
    {
        var connectionString = await postgres.CreateEmptyDatabaseAsync("empty");
        await using (var db = PostgresServerFixture.CreateContext(connectionString))
        {
            await MetadataMigrator.MigrateAsync(db, NullLogger.Instance, Cancel);
        }

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Cancel);

        Assert.Equal(
            ["__EFMigrationsHistory", "access_keys", "bucket_grants", "buckets", "chunk_replicas", "chunks", "data_protection_keys", "files", "hash_ring_nodes", "multipart_parts", "multipart_uploads", "object_blobs", "objects", "released_blobs", "storage_servers", "upload_sessions"],
            await Strings(connection, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"));

        Assert.Equal(
            [
                "ix_bucket_grants_access_key_id", "ix_chunk_replicas_server_id_status", "ix_chunks_file_id_chunk_number", "ix_files_created_at_file_id",
                "ix_files_upload_status_created_at_file_id", "ix_hash_ring_nodes_hash_value", "ix_multipart_parts_file_id", "ix_multipart_uploads_bucket_name_key_created_at",
                "ix_multipart_uploads_created_at", "ix_object_blobs_file_id", "ix_objects_bucket_name_key", "ix_released_blobs_released_at",
                "ix_storage_servers_grpc_address", "ix_storage_servers_name", "ix_storage_servers_status_last_heartbeat", "ix_upload_sessions_file_id",
                "ix_upload_sessions_status_expires_at", "pk_access_keys", "pk_bucket_grants", "pk_buckets",
                "pk_chunk_replicas", "pk_chunks", "pk_data_protection_keys", "pk_files",
                "pk_hash_ring_nodes", "pk_multipart_parts", "pk_multipart_uploads", "pk_object_blobs",
                "pk_objects", "pk_released_blobs", "pk_storage_servers", "pk_upload_sessions",
            ],
            await Strings(connection, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '__EFMigrationsHistory' ORDER BY indexname"));

        Assert.Equal(
            ["ix_chunks_file_id_chunk_number", "ix_multipart_parts_file_id", "ix_object_blobs_file_id", "ix_objects_bucket_name_key", "ix_storage_servers_grpc_address"],
            await Strings(connection, """
                SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
                WHERE n.nspname = 'public' AND x.indisunique AND NOT x.indisprimary AND i.relname NOT LIKE '%EFMigrations%' ORDER BY 1
                """));

        Assert.Equal(
            [
                "fk_bucket_grants_buckets_bucket_name CASCADE", "fk_chunk_replicas_chunks_chunk_id CASCADE",
                "fk_chunk_replicas_storage_servers_server_id RESTRICT", "fk_chunks_files_file_id CASCADE",
                "fk_hash_ring_nodes_storage_servers_server_id CASCADE", "fk_multipart_parts_files_file_id RESTRICT",
                "fk_multipart_parts_multipart_uploads_upload_id CASCADE", "fk_multipart_uploads_buckets_bucket_name RESTRICT",
                "fk_object_blobs_files_file_id RESTRICT", "fk_object_blobs_objects_object_id CASCADE",
                "fk_objects_buckets_bucket_name RESTRICT", "fk_released_blobs_files_file_id CASCADE",
                "fk_upload_sessions_files_file_id CASCADE",
            ],
            await Strings(connection, "SELECT constraint_name || ' ' || delete_rule FROM information_schema.referential_constraints WHERE constraint_schema = 'public' ORDER BY 1"));

        var checks = await Strings(connection, "SELECT conname FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace ORDER BY 1");
        output.WriteLine($"{checks.Count} check constraints: {string.Join(", ", checks)}");
        Assert.Equal(39, checks.Count);

        Assert.Equal(["trg_files_updated_at"], await Strings(connection, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"));
        Assert.Equal(
            ["files.metadata jsonb", "multipart_uploads.headers jsonb", "objects.headers jsonb", "storage_servers.metadata jsonb", "upload_sessions.client_ip inet"],
            await Strings(connection, """
                SELECT table_name || '.' || column_name || ' ' || udt_name FROM information_schema.columns
                WHERE table_schema = 'public' AND udt_name IN ('jsonb', 'inet') ORDER BY 1
                """));
    }

    [Fact]
    public async Task Services_starting_at_once_apply_the_migrations_exactly_once()
    {
        var connectionString = await postgres.CreateEmptyDatabaseAsync("race");

        // Seven processes' worth: the gateway and six nodes.
        var migrators = Enumerable.Range(0, 7).Select(async _ =>
        {
            await using var db = PostgresServerFixture.CreateContext(connectionString);
            await MetadataMigrator.MigrateAsync(db, NullLogger.Instance, Cancel);
        });
        await Task.WhenAll(migrators).WaitAsync(TimeSpan.FromSeconds(90), Cancel);

        await using var check = PostgresServerFixture.CreateContext(connectionString);
        Assert.Empty(await check.Database.GetPendingMigrationsAsync(Cancel));
        Assert.Equal(check.Database.GetMigrations(), await check.Database.GetAppliedMigrationsAsync(Cancel));
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Cancel);
        Assert.Equal([check.Database.GetMigrations().Count().ToString(System.Globalization.CultureInfo.InvariantCulture)], await Strings(connection, "SELECT count(*)::text FROM \"__EFMigrationsHistory\""));
    }

    private static async Task<List<string>> Strings(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(Cancel);
        var values = new List<string>();
        while (await reader.ReadAsync(Cancel))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
