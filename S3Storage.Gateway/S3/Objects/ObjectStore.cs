using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Files;

namespace S3Storage.Gateway.S3.Objects;

/// <summary>What an object is made of when it is written: its blobs in order and what is stored with it.</summary>
public sealed record ObjectVersion(Guid ObjectId, IReadOnlyList<Guid> Blobs, long Size, string ETag, string ContentType, IReadOnlyDictionary<string, string> Headers, DateTimeOffset LastModified);

/// <summary>
/// Objects as keys pointing at blobs. A write or delete switches the key in one transaction
/// that also records the blobs it let go of (<c>released_blobs</c>); the S3 sweep deletes them
/// once <c>S3:ReleasedBlobGrace</c> has passed, so a read that began before the switch still
/// finds its chunks. A reader sees the old object or the new one, never a mix, and no blob is
/// lost or leaked, whichever gateway dies when.
/// </summary>
public sealed partial class ObjectStore(MetadataDbContext db, FileDeleter deleter, ILogger<ObjectStore> logger)
{
    /// <summary>Advisory lock class of a key's writes; distinct from the other lock classes of the schema.</summary>
    private const int KeyLockClass = 0x53334b59;

    public static string KeyBytesCheck(string key) =>
        Encoding.UTF8.GetByteCount(key) > 1024
            ? throw S3Errors.KeyTooLong($"Your key is {Encoding.UTF8.GetByteCount(key)} bytes; the longest key is 1024 bytes.")
            : key;

    /// <summary>The object at the key with its blobs' chunks and copies, or null.</summary>
    /// <remarks>
    /// Every GET, HEAD and copy of an object starts here: one hand-written statement, as for
    /// <c>/files</c> (<see cref="StoredFileRows"/>), instead of EF Core's four-level include.
    /// </remarks>
    public Task<StoredObject?> FindAsync(string bucket, string key, CancellationToken cancellationToken) =>
        db.ReadDirectAsync((connection, ct) => ReadObjectAsync(connection, bucket, key, ct), cancellationToken);

    private const string ObjectWithCopies =
        "SELECT o.object_id, o.bucket_name, o.key, o.size, o.etag, o.content_type, o.headers::text, o.last_modified, b.ordinal, b.file_id, "
        + StoredFileRows.Columns
        + " FROM objects o LEFT JOIN object_blobs b ON b.object_id = o.object_id LEFT JOIN files f ON f.file_id = b.file_id"
        + StoredFileRows.Joins
        + " WHERE o.bucket_name = $1 AND o.key = $2 ORDER BY b.ordinal, " + StoredFileRows.Order;

    private static async Task<StoredObject?> ReadObjectAsync(NpgsqlConnection connection, string bucket, string key, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(ObjectWithCopies, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = bucket });
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var files = new StoredFileRows(firstColumn: 10);
        StoredObject? found = null;
        ObjectBlob? blob = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            found ??= new StoredObject
            {
                ObjectId = reader.GetGuid(0),
                BucketName = reader.GetString(1),
                Key = reader.GetString(2),
                Size = reader.GetInt64(3),
                Etag = reader.GetString(4),
                ContentType = reader.GetString(5),
                Headers = reader.IsDBNull(6) ? null : reader.GetString(6),
                LastModified = reader.GetFieldValue<DateTimeOffset>(7),
            };
            if (reader.IsDBNull(8))
            {
                continue;
            }

            var ordinal = reader.GetInt32(8);
            if (blob?.Ordinal != ordinal)
            {
                blob = new ObjectBlob { ObjectId = found.ObjectId, Ordinal = ordinal, FileId = reader.GetGuid(9) };
                found.Blobs.Add(blob);
            }

            blob.File = files.Read(reader);
        }

        return found;
    }

    /// <summary>Makes <paramref name="version"/> the object at the key, releasing what it replaces; <paramref name="mustNotExist"/> is If-None-Match: *.</summary>
    public async Task PutAsync(string bucket, string key, ObjectVersion version, bool mustNotExist, CancellationToken cancellationToken)
    {
        await db.Database.CreateExecutionStrategy().ExecuteAsync(
            0,
            async (context, _, ct) =>
            {
                await using var transaction = await context.Database.BeginTransactionAsync(ct);
                await LockKeyAsync(context, bucket, key, ct);
                if (mustNotExist && await context.Set<StoredObject>().AnyAsync(o => o.BucketName == bucket && o.Key == key, ct))
                {
                    throw S3Errors.PreconditionFailed("If-None-Match: * and the key exists");
                }

                await SwitchInTransactionAsync(context, bucket, key, version, ct);
                await transaction.CommitAsync(ct);
                return 0;
            },
            async (context, _, ct) => new ExecutionResult<int>(await context.Set<StoredObject>().AnyAsync(o => o.ObjectId == version.ObjectId, ct), 0),
            cancellationToken);
    }

    /// <summary>
    /// In the caller's transaction, with the key locked (<see cref="LockKeyAsync"/>): replaces
    /// the object at the key with <paramref name="version"/>, releasing the blobs it replaces.
    /// </summary>
    internal static async Task SwitchInTransactionAsync(DbContext context, string bucket, string key, ObjectVersion version, CancellationToken cancellationToken)
    {
        var headers = JsonSerializer.Serialize(version.Headers);
        var blobs = version.Blobs.ToArray();
        var ordinals = Enumerable.Range(0, blobs.Length).ToArray();
        await ReleaseKeyAsync(context, bucket, key, cancellationToken);
        await context.Database.ExecuteSqlAsync($"""
            INSERT INTO objects (object_id, bucket_name, key, size, etag, content_type, headers, last_modified)
            VALUES ({version.ObjectId}, {bucket}, {key}, {version.Size}, {version.ETag}, {version.ContentType}, {headers}::jsonb, {version.LastModified});
            INSERT INTO object_blobs (object_id, ordinal, file_id)
            SELECT {version.ObjectId}, o, f FROM unnest({ordinals}::int[], {blobs}::uuid[]) AS u(o, f);
            """, cancellationToken);
    }

    /// <summary>Removes the object at the key (nothing if there is none) and releases its blobs.</summary>
    public async Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        await db.Database.CreateExecutionStrategy().ExecuteAsync(
            async ct =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                await LockKeyAsync(db, bucket, key, ct);
                await ReleaseKeyAsync(db, bucket, key, ct);
                await transaction.CommitAsync(ct);
            },
            cancellationToken);
    }

    /// <summary>Deletes blobs that never became part of an object (a write that failed after its upload); what fails here is an orphan for garbage collection.</summary>
    public async Task DeleteUnusedBlobsAsync(IReadOnlyList<Guid> blobs)
    {
        foreach (var fileId in blobs)
        {
            try
            {
                await deleter.DeleteAsync(fileId, CancellationToken.None);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogReleaseDeferred(logger, e, fileId);
            }
        }
    }

    /// <summary>Serializes writers of one key for the rest of the transaction, so each sees what the previous one committed.</summary>
    internal static Task LockKeyAsync(DbContext context, string bucket, string key, CancellationToken cancellationToken) =>
        context.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({KeyLockClass}, hashtext({bucket} || '/' || {key}))", cancellationToken);

    /// <summary>Deletes the key's object row and records its blobs as released, in the caller's transaction.</summary>
    private static Task ReleaseKeyAsync(DbContext context, string bucket, string key, CancellationToken cancellationToken) =>
        context.Database.ExecuteSqlAsync($"""
            WITH old AS (
                DELETE FROM objects WHERE bucket_name = {bucket} AND key = {key}
                RETURNING object_id),
            old_blobs AS (
                DELETE FROM object_blobs WHERE object_id IN (SELECT object_id FROM old)
                RETURNING file_id)
            INSERT INTO released_blobs (file_id, released_at)
            SELECT file_id, now() FROM old_blobs
            ON CONFLICT (file_id) DO NOTHING
            """, cancellationToken);

    public static Dictionary<string, string> ReadHeaders(string? json) =>
        json is null ? [] : JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete unused blob {FileId}")]
    private static partial void LogReleaseDeferred(ILogger logger, Exception exception, Guid fileId);
}
