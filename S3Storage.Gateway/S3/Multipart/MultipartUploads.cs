using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.S3.Objects;

namespace S3Storage.Gateway.S3.Multipart;

/// <summary>A part as Complete names it.</summary>
public sealed record CompletedPart(int PartNumber, string ETag);

/// <summary>What Complete answers (the same on a repeated Complete).</summary>
public sealed record CompletedUpload(string Bucket, string Key, string ETag);

/// <summary>
/// Multipart uploads: each part is a blob; Complete makes the listed parts' blobs the object in
/// one transaction (the same switch as PutObject) and releases every blob it does not keep.
/// A part uploaded again replaces the earlier one, whose blob is released the same way.
/// </summary>
public sealed class MultipartUploads(MetadataDbContext db, ObjectStore objects, IOptions<StorageOptions> storage)
{
    /// <summary>S3's smallest part but the last.</summary>
    public const long MinPartSize = 5 * 1024 * 1024;

    public const int MaxPartNumber = 10000;

    public async Task<string> CreateAsync(string bucket, string key, string initiator, string contentType, IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        var upload = new MultipartUpload
        {
            // Hex, so an id never begins with '-': command-line clients (the AWS CLI's argparse)
            // read `--upload-id -_Az…` as a missing value. Base64url did, one id in 64.
            UploadId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)),
            BucketName = bucket,
            Key = key,
            InitiatorAccessKeyId = initiator,
            ContentType = contentType,
            Headers = JsonSerializer.Serialize(headers),
            CreatedAt = DateTimeOffset.UtcNow,
        };
        db.MultipartUploads.Add(upload);
        await db.SaveChangesAsync(cancellationToken);
        return upload.UploadId;
    }

    /// <summary>The upload in progress with this id for this key; NoSuchUpload otherwise.</summary>
    public async Task<MultipartUpload> RequireActiveAsync(string bucket, string key, string uploadId, CancellationToken cancellationToken) =>
        await db.MultipartUploads.AsNoTracking().SingleOrDefaultAsync(u => u.UploadId == uploadId && u.BucketName == bucket && u.Key == key && u.CompletedAt == null, cancellationToken)
            ?? throw S3Errors.NoSuchUpload(uploadId);

    /// <summary>Records a stored part (replacing one with the same number); if the upload ended meanwhile, the part's blob is deleted and NoSuchUpload thrown.</summary>
    public async Task SavePartAsync(string bucket, string key, string uploadId, int partNumber, Guid fileId, long size, string md5Hex, CancellationToken cancellationToken)
    {
        var saved = await db.Database.CreateExecutionStrategy().ExecuteAsync(
            async ct =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                if (!await LockActiveAsync(db, uploadId, bucket, key, ct))
                {
                    return false;
                }

                await db.Database.ExecuteSqlAsync($"""
                    WITH old AS (
                        SELECT file_id FROM multipart_parts WHERE upload_id = {uploadId} AND part_number = {partNumber} AND file_id <> {fileId}),
                    saved AS (
                        INSERT INTO multipart_parts (upload_id, part_number, file_id, size, etag, uploaded_at)
                        VALUES ({uploadId}, {partNumber}, {fileId}, {size}, {md5Hex}, now())
                        ON CONFLICT (upload_id, part_number) DO UPDATE
                        SET file_id = excluded.file_id, size = excluded.size, etag = excluded.etag, uploaded_at = excluded.uploaded_at)
                    INSERT INTO released_blobs (file_id, released_at)
                    SELECT file_id, now() FROM old
                    ON CONFLICT (file_id) DO NOTHING
                    """, ct);
                await transaction.CommitAsync(ct);
                return true;
            },
            cancellationToken);
        if (!saved)
        {
            await objects.DeleteUnusedBlobsAsync([fileId]);
            throw S3Errors.NoSuchUpload(uploadId);
        }
    }

    public async Task<CompletedUpload> CompleteAsync(string bucket, string key, string uploadId, IReadOnlyList<CompletedPart> listed, CancellationToken cancellationToken)
    {
        for (var i = 1; i < listed.Count; i++)
        {
            if (listed[i].PartNumber <= listed[i - 1].PartNumber)
            {
                throw S3Errors.InvalidPartOrder("The list of parts was not in ascending order. Parts must be ordered by part number.");
            }
        }

        var maxFileSize = storage.Value.MaxFileSize;
        return await db.Database.CreateExecutionStrategy().ExecuteAsync(
            async ct =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                var upload = await db.MultipartUploads.FromSql($"""
                    SELECT * FROM multipart_uploads WHERE upload_id = {uploadId} AND bucket_name = {bucket} AND key = {key} FOR UPDATE
                    """).AsNoTracking().SingleOrDefaultAsync(ct) ?? throw S3Errors.NoSuchUpload(uploadId);
                if (upload.CompletedEtag is { } completedETag)
                {
                    // Complete is idempotent: a client that lost the first answer asks again.
                    return new CompletedUpload(bucket, key, completedETag);
                }

                var parts = await db.MultipartParts.AsNoTracking().Where(p => p.UploadId == uploadId).ToDictionaryAsync(p => p.PartNumber, ct);
                var kept = new List<MultipartPart>(listed.Count);
                foreach (var part in listed)
                {
                    if (!parts.TryGetValue(part.PartNumber, out var stored) || stored.Etag != S3Xml.Unquoted(part.ETag))
                    {
                        throw S3Errors.InvalidPart($"Part {part.PartNumber} was not uploaded, or its ETag does not match: one or more of the specified parts could not be found.");
                    }

                    kept.Add(stored);
                }

                for (var i = 0; i < kept.Count - 1; i++)
                {
                    if (kept[i].Size < MinPartSize)
                    {
                        throw S3Errors.EntityTooSmall($"Part {kept[i].PartNumber} is {kept[i].Size} bytes: every part but the last must be at least {MinPartSize} bytes.");
                    }
                }

                var size = kept.Sum(p => p.Size);
                if (size > maxFileSize)
                {
                    throw S3Errors.EntityTooLarge($"The parts add up to {size} bytes; the largest object this store accepts is {maxFileSize} bytes.");
                }

                var etag = MultipartETag(kept.Select(p => p.Etag));
                var headers = ObjectStore.ReadHeaders(upload.Headers);
                var objectId = Guid.CreateVersion7();
                var keptFiles = kept.Select(p => p.FileId).ToArray();
                var unlisted = parts.Values.Where(p => !keptFiles.Contains(p.FileId)).Select(p => p.FileId).ToArray();
                await ObjectStore.LockKeyAsync(db, bucket, key, ct);
                // The parts' rows go first: a blob is kept by the object, or released.
                await db.Database.ExecuteSqlAsync($"""
                    WITH parts_done AS (
                        DELETE FROM multipart_parts WHERE upload_id = {uploadId} RETURNING file_id),
                    marked AS (
                        UPDATE multipart_uploads SET completed_at = now(), completed_etag = {etag} WHERE upload_id = {uploadId} RETURNING upload_id)
                    INSERT INTO released_blobs (file_id, released_at)
                    SELECT file_id, now() FROM parts_done WHERE file_id = ANY({unlisted}::uuid[])
                    ON CONFLICT (file_id) DO NOTHING
                    """, ct);
                await ObjectStore.SwitchInTransactionAsync(db, bucket, key, new ObjectVersion(objectId, keptFiles, size, etag, upload.ContentType, headers, DateTimeOffset.UtcNow), ct);
                await transaction.CommitAsync(ct);
                return new CompletedUpload(bucket, key, etag);
            },
            cancellationToken);
    }

    /// <summary>Ends an upload in progress and deletes its parts' blobs.</summary>
    public async Task AbortAsync(string bucket, string key, string uploadId, CancellationToken cancellationToken)
    {
        var aborted = await db.Database.CreateExecutionStrategy().ExecuteAsync(
            async ct =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                var released = await ReleaseUploadAsync(db, uploadId, bucket, key, ct);
                await transaction.CommitAsync(ct);
                return released;
            },
            cancellationToken);
        if (!aborted)
        {
            throw S3Errors.NoSuchUpload(uploadId);
        }
    }

    /// <summary>Deletes an upload in progress and releases its parts' blobs; false when there was none.</summary>
    internal static async Task<bool> ReleaseUploadAsync(MetadataDbContext db, string uploadId, string bucket, string key, CancellationToken cancellationToken)
    {
        if (!await LockActiveAsync(db, uploadId, bucket, key, cancellationToken))
        {
            return false;
        }

        await db.Database.ExecuteSqlAsync($"""
            WITH parts_done AS (
                DELETE FROM multipart_parts WHERE upload_id = {uploadId} RETURNING file_id),
            upload_done AS (
                DELETE FROM multipart_uploads WHERE upload_id = {uploadId} RETURNING upload_id)
            INSERT INTO released_blobs (file_id, released_at)
            SELECT file_id, now() FROM parts_done
            ON CONFLICT (file_id) DO NOTHING
            """, cancellationToken);
        return true;
    }

    /// <summary>Locks the upload's row for the caller's transaction if it is still in progress; false when it is not.</summary>
    private static async Task<bool> LockActiveAsync(MetadataDbContext db, string uploadId, string bucket, string key, CancellationToken cancellationToken) =>
        (await db.Database.SqlQuery<string>($"""
            SELECT upload_id AS "Value" FROM multipart_uploads
            WHERE upload_id = {uploadId} AND bucket_name = {bucket} AND key = {key} AND completed_at IS NULL
            FOR UPDATE
            """).ToListAsync(cancellationToken)).Count > 0;

    public Task<List<MultipartPart>> ListPartsAsync(string uploadId, int after, int max, CancellationToken cancellationToken) =>
        db.MultipartParts.AsNoTracking().Where(p => p.UploadId == uploadId && p.PartNumber > after).OrderBy(p => p.PartNumber).Take(max + 1).ToListAsync(cancellationToken);

    public Task<List<MultipartUpload>> ListUploadsAsync(string bucket, string prefix, string keyMarker, string uploadIdMarker, int max, CancellationToken cancellationToken)
    {
        var uploads = db.MultipartUploads.AsNoTracking().Where(u => u.BucketName == bucket && u.CompletedAt == null && u.Key.StartsWith(prefix));
        if (keyMarker.Length > 0)
        {
            uploads = uploadIdMarker.Length > 0
                ? uploads.Where(u => string.Compare(u.Key, keyMarker) > 0 || u.Key == keyMarker && string.Compare(u.UploadId, uploadIdMarker) > 0)
                : uploads.Where(u => string.Compare(u.Key, keyMarker) > 0);
        }

        return uploads.OrderBy(u => u.Key).ThenBy(u => u.UploadId).Take(max + 1).ToListAsync(cancellationToken);
    }

    /// <summary>S3's multipart ETag: the MD5 of the parts' binary MD5s, then "-" and the number of parts.</summary>
    public static string MultipartETag(IEnumerable<string> partMd5Hex)
    {
        var parts = partMd5Hex.ToList();
        var concatenated = parts.SelectMany(Convert.FromHexString).ToArray();
        return $"{Convert.ToHexStringLower(MD5.HashData(concatenated))}-{parts.Count}";
    }
}
