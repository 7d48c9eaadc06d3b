using Npgsql;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Tests.Infrastructure;

namespace S3Storage.Tests.Metadata;

/// <summary>Every CHECK constraint of the schema, each shown refusing a row that breaks it.</summary>
public sealed class CheckConstraintTests(MetadataDatabase database) : IClassFixture<MetadataDatabase>, IAsyncLifetime
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>A row per test, as the other tables get.</summary>
    private readonly string _accessKeyId = S3Storage.Contracts.Access.AccessKeyToken.Generate().AccessKeyId;

    private readonly string _bucket = "ck-" + Guid.NewGuid().ToString("N")[..12];

    private readonly string _uploadId = Guid.NewGuid().ToString("N");

    private StoredFile _file = null!;
    private StorageServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _file = TestRows.File();
        _server = TestRows.Server();
        await using var db = database.CreateContext();
        db.StorageServers.Add(_server);
        db.Files.Add(_file);
        _file.Chunks[0].Replicas.Add(new ChunkReplica { ChunkId = _file.Chunks[0].ChunkId, ServerId = _server.ServerId });
        db.UploadSessions.Add(TestRows.Session(_file.FileId, DateTimeOffset.UtcNow, TimeSpan.FromHours(1)));
        db.HashRingNodes.Add(new HashRingNode { ServerId = _server.ServerId, VirtualNodeIndex = 0, HashValue = 12345 });
        db.AccessKeys.Add(new AccessKey { AccessKeyId = _accessKeyId, Name = "checks", Role = AccessRole.ReadOnly, ProtectedSecret = "ciphertext", CreatedAt = DateTimeOffset.UtcNow });
        db.Buckets.Add(new Bucket { Name = _bucket, OwnerAccessKeyId = _accessKeyId });
        db.BucketGrants.Add(new BucketGrant { BucketName = _bucket, AccessKeyId = _accessKeyId, Permission = BucketPermission.Owner });
        var objectId = Guid.NewGuid();
        db.Objects.Add(new StoredObject { ObjectId = objectId, BucketName = _bucket, Key = "k", Etag = "e", ContentType = "binary/octet-stream", Blobs = [new ObjectBlob { ObjectId = objectId, Ordinal = 0, FileId = _file.FileId }] });
        db.MultipartUploads.Add(new MultipartUpload { UploadId = _uploadId, BucketName = _bucket, Key = "k", InitiatorAccessKeyId = _accessKeyId, ContentType = "binary/octet-stream", CreatedAt = DateTimeOffset.UtcNow });
        db.MultipartParts.Add(new MultipartPart { UploadId = _uploadId, PartNumber = 1, FileId = _file.FileId, Etag = new string('a', 32), UploadedAt = DateTimeOffset.UtcNow });
        await db.SaveChangesAsync(Cancel);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>(constraint, table, SET clause that breaks it on an otherwise valid row).</summary>
    public static TheoryData<string, string, string> Violations => new()
    {
        { "ck_files_total_size", "files", "total_size = 10737418241" },
        { "ck_files_chunk_size", "files", "chunk_size = total_size + 1" },
        { "ck_files_chunk_size", "files", "chunk_size = -1" },
        { "ck_files_num_chunks", "files", "num_chunks = 5" },
        { "ck_files_upload_status", "files", "upload_status = 'done'" },
        { "ck_files_checksum", "files", "checksum = repeat('G', 64)" },
        { "ck_files_checksum", "files", "checksum = repeat('A', 64)" },
        { "ck_files_filename", "files", "filename = ''" },
        { "ck_files_filename", "files", "filename = repeat('x', 1025)" },
        { "ck_files_metadata", "files", "metadata = '[1, 2]'::jsonb" },
        { "ck_files_completed", "files", "upload_status = 'completed', checksum = NULL, completed_at = now()" },
        { "ck_files_completed", "files", "upload_status = 'completed', checksum = repeat('a', 64), completed_at = NULL" },
        { "ck_chunks_chunk_number", "chunks", "chunk_number = 6" },
        { "ck_chunks_chunk_number", "chunks", "chunk_number = -1" },
        { "ck_chunks_chunk_size", "chunks", "chunk_size = -5" },
        { "ck_chunks_chunk_hash", "chunks", "chunk_hash = 'abc'" },
        { "ck_chunks_upload_status", "chunks", "upload_status = 'PENDING'" },
        { "ck_chunk_replicas_status", "chunk_replicas", "status = 'lost'" },
        { "ck_storage_servers_status", "storage_servers", "status = 'dead'" },
        { "ck_storage_servers_available_space", "storage_servers", "available_space = -1" },
        { "ck_storage_servers_used_space", "storage_servers", "used_space = -1" },
        { "ck_storage_servers_total_chunks", "storage_servers", "total_chunks = -1" },
        { "ck_storage_servers_name", "storage_servers", "name = ''" },
        { "ck_storage_servers_grpc_address", "storage_servers", "grpc_address = 'storage-1:5000'" },
        { "ck_storage_servers_metadata", "storage_servers", "metadata = '\"text\"'::jsonb" },
        { "ck_hash_ring_nodes_virtual_node_index", "hash_ring_nodes", "virtual_node_index = -1" },
        { "ck_hash_ring_nodes_hash_value", "hash_ring_nodes", "hash_value = 4294967296" },
        { "ck_hash_ring_nodes_hash_value", "hash_ring_nodes", "hash_value = -1" },
        { "ck_upload_sessions_status", "upload_sessions", "status = 'paused'" },
        { "ck_upload_sessions_expires_at", "upload_sessions", "expires_at = started_at - interval '1 second'" },
        { "ck_upload_sessions_last_activity", "upload_sessions", "last_activity = started_at - interval '1 second'" },
        { "ck_upload_sessions_bytes_received", "upload_sessions", "bytes_received = -1" },
        { "ck_access_keys_role", "access_keys", "role = 'owner'" },
        { "ck_access_keys_access_key_id", "access_keys", "access_key_id = 'AKIAIOSFODNN7EXAMPLE'" },
        { "ck_access_keys_access_key_id", "access_keys", "access_key_id = 'S3SKlowercaseletters'" },
        { "ck_access_keys_expires_at", "access_keys", "expires_at = created_at" },
        { "ck_buckets_name", "buckets", "name = 'Upper'" },
        { "ck_buckets_name", "buckets", "name = 'ab'" },
        { "ck_bucket_grants_permission", "bucket_grants", "permission = 'admin'" },
        { "ck_objects_key", "objects", "key = ''" },
        { "ck_objects_key", "objects", "key = repeat('é', 513)" },
        { "ck_objects_size", "objects", "size = -1" },
        { "ck_objects_headers", "objects", "headers = '[]'::jsonb" },
        { "ck_object_blobs_ordinal", "object_blobs", "ordinal = -1" },
        { "ck_multipart_uploads_key", "multipart_uploads", "key = ''" },
        { "ck_multipart_uploads_headers", "multipart_uploads", "headers = '1'::jsonb" },
        { "ck_multipart_parts_part_number", "multipart_parts", "part_number = 10001" },
        { "ck_multipart_parts_part_number", "multipart_parts", "part_number = 0" },
        { "ck_multipart_parts_etag", "multipart_parts", "etag = repeat('G', 32)" },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task A_row_breaking_a_check_constraint_is_refused(string constraint, string table, string set)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Cancel);
        var filter = table switch
        {
            "files" or "chunks" or "upload_sessions" => $"file_id = '{_file.FileId}'",
            "access_keys" => $"access_key_id = '{_accessKeyId}'",
            "buckets" => $"name = '{_bucket}'",
            "bucket_grants" or "objects" => $"bucket_name = '{_bucket}'",
            "object_blobs" => $"file_id = '{_file.FileId}'",
            "multipart_uploads" or "multipart_parts" => $"upload_id = '{_uploadId}'",
            _ => $"server_id = '{_server.ServerId}'",
        };
        await using var command = new NpgsqlCommand($"UPDATE {table} SET {set} WHERE {filter}", connection);

        var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync(Cancel));

        Assert.Equal(PostgresErrorCodes.CheckViolation, error.SqlState);
        Assert.Equal(constraint, error.ConstraintName);
    }

    [Fact]
    public async Task Every_check_constraint_in_the_schema_has_a_violation_case_above()
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand("SELECT conname FROM pg_constraint WHERE contype = 'c' AND connamespace = 'public'::regnamespace", connection);
        var inSchema = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(Cancel))
        {
            while (await reader.ReadAsync(Cancel))
            {
                inSchema.Add(reader.GetString(0));
            }
        }

        var tested = Violations.Select(row => row.Data.Item1).Distinct();
        Assert.Equal(inSchema.Order(), tested.Order());
    }

    [Fact]
    public async Task The_valid_rows_pass_every_constraint()
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand(
            $"UPDATE files SET upload_status = 'completed', checksum = repeat('a', 64), completed_at = now() WHERE file_id = '{_file.FileId}'",
            connection);
        Assert.Equal(1, await command.ExecuteNonQueryAsync(Cancel));
    }
}
