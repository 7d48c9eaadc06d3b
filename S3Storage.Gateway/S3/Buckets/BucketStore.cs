using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Access;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using Microsoft.Extensions.Options;

namespace S3Storage.Gateway.S3.Buckets;

/// <summary>Who signed an S3 request: the key and its role.</summary>
public sealed record S3Caller(string AccessKeyId, AccessRole Role)
{
    public static S3Caller? From(ClaimsPrincipal user) =>
        user.FindFirstValue(ClaimTypes.NameIdentifier) is { } keyId && user.FindFirstValue(ClaimTypes.Role) is { } role
            ? new S3Caller(keyId, AccessRoles.Parse(role))
            : null;

    public bool CanWrite => Role is AccessRole.Admin or AccessRole.ReadWrite;
}

/// <summary>
/// Buckets and who may use them. A key's role caps what it may do anywhere (read-only never
/// writes); within that, a key reaches a bucket it owns or was granted, and admin keys reach
/// every bucket. A bucket the caller cannot reach answers AccessDenied, as S3 does, so names
/// of other tenants' buckets are not confirmed by a different error.
/// </summary>
public sealed class BucketStore(MetadataDbContext db, IOptions<S3Options> options)
{
    /// <summary>The bucket, if <paramref name="caller"/> may use it with <paramref name="needed"/>; throws NoSuchBucket or AccessDenied.</summary>
    public async Task<Bucket> RequireAsync(string name, S3Caller caller, BucketPermission needed, CancellationToken cancellationToken)
    {
        BucketNames.Validate(name);
        var found = await db.Buckets.AsNoTracking()
            .Where(b => b.Name == name)
            .Select(b => new
            {
                Bucket = b,
                Granted = db.BucketGrants.Where(g => g.BucketName == b.Name && g.AccessKeyId == caller.AccessKeyId).Select(g => (BucketPermission?)g.Permission).FirstOrDefault(),
            })
            .SingleOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            throw S3Errors.NoSuchBucket(name);
        }

        if (needed != BucketPermission.Read && !caller.CanWrite)
        {
            throw S3Errors.AccessDenied($"Access key {caller.AccessKeyId} is {AccessRoles.Name(caller.Role)}: it cannot change anything.");
        }

        var allowed = caller.Role == AccessRole.Admin
            || found.Bucket.OwnerAccessKeyId == caller.AccessKeyId
            || found.Granted is { } granted && granted >= needed;
        return allowed
            ? found.Bucket
            : throw S3Errors.AccessDenied($"Access key {caller.AccessKeyId} has no {needed.ToString().ToLowerInvariant()} access to bucket {name}.");
    }

    /// <summary>The buckets the caller reaches, by name.</summary>
    public Task<List<Bucket>> ListAsync(S3Caller caller, CancellationToken cancellationToken)
    {
        var buckets = db.Buckets.AsNoTracking();
        if (caller.Role != AccessRole.Admin)
        {
            buckets = buckets.Where(b => b.OwnerAccessKeyId == caller.AccessKeyId || db.BucketGrants.Any(g => g.BucketName == b.Name && g.AccessKeyId == caller.AccessKeyId));
        }

        return buckets.OrderBy(b => b.Name).ToListAsync(cancellationToken);
    }

    /// <summary>
    /// Creates the bucket, owned by the caller. An existing bucket of another key answers
    /// BucketAlreadyExists; the caller's own answers BucketAlreadyOwnedByYou, except in
    /// us-east-1, where S3 answers a repeated create with 200 (and clients rely on it).
    /// </summary>
    public async Task CreateAsync(string name, S3Caller caller, CancellationToken cancellationToken)
    {
        BucketNames.Validate(name);
        if (!caller.CanWrite)
        {
            throw S3Errors.AccessDenied($"Access key {caller.AccessKeyId} is {AccessRoles.Name(caller.Role)}: it cannot create buckets.");
        }

        var inserted = await db.Database.ExecuteSqlAsync($"""
            WITH created AS (
                INSERT INTO buckets (name, owner_access_key_id) VALUES ({name}, {caller.AccessKeyId})
                ON CONFLICT (name) DO NOTHING
                RETURNING name)
            INSERT INTO bucket_grants (bucket_name, access_key_id, permission)
            SELECT name, {caller.AccessKeyId}, 'owner' FROM created
            """, cancellationToken);
        if (inserted == 0)
        {
            var owner = await db.Buckets.AsNoTracking().Where(b => b.Name == name).Select(b => b.OwnerAccessKeyId).SingleOrDefaultAsync(cancellationToken);
            if (owner != caller.AccessKeyId)
            {
                throw S3Errors.BucketAlreadyExists(name);
            }

            if (options.Value.Region != "us-east-1")
            {
                throw S3Errors.BucketAlreadyOwnedByYou(name);
            }
        }
    }

    /// <summary>
    /// Deletes a bucket without objects. Multipart uploads still in progress go with it, as in
    /// S3: their parts' blobs are released in the same transaction, for the sweep to delete.
    /// </summary>
    public async Task DeleteAsync(string name, S3Caller caller, CancellationToken cancellationToken)
    {
        await RequireAsync(name, caller, BucketPermission.Owner, cancellationToken);
        await db.Database.CreateExecutionStrategy().ExecuteAsync(
            async ct =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(ct);
                // Locks the bucket row: no upload starts in it while it goes.
                await db.Database.ExecuteSqlAsync($"SELECT 1 FROM buckets WHERE name = {name} FOR UPDATE", ct);
                if (await db.Objects.AnyAsync(o => o.BucketName == name, ct))
                {
                    throw S3Errors.BucketNotEmpty(name);
                }

                await db.Database.ExecuteSqlAsync($"""
                    WITH uploads AS (
                        DELETE FROM multipart_uploads WHERE bucket_name = {name} RETURNING upload_id),
                    parts AS (
                        DELETE FROM multipart_parts WHERE upload_id IN (SELECT upload_id FROM uploads) RETURNING file_id)
                    INSERT INTO released_blobs (file_id, released_at)
                    SELECT file_id, now() FROM parts
                    ON CONFLICT (file_id) DO NOTHING
                    """, ct);
                await db.Database.ExecuteSqlAsync($"DELETE FROM buckets WHERE name = {name}", ct);
                await transaction.CommitAsync(ct);
            },
            cancellationToken);
    }

    /// <summary>Gives a key a permission on a bucket (or changes it).</summary>
    public async Task<bool> GrantAsync(string name, string accessKeyId, BucketPermission permission, CancellationToken cancellationToken)
    {
        var permissionName = permission.ToString().ToLowerInvariant();
        return await db.Database.ExecuteSqlAsync($"""
            INSERT INTO bucket_grants (bucket_name, access_key_id, permission)
            SELECT name, {accessKeyId}, {permissionName} FROM buckets WHERE name = {name}
            ON CONFLICT (bucket_name, access_key_id) DO UPDATE SET permission = excluded.permission
            """, cancellationToken) > 0;
    }

    public async Task<bool> RevokeAsync(string name, string accessKeyId, CancellationToken cancellationToken) =>
        await db.BucketGrants.Where(g => g.BucketName == name && g.AccessKeyId == accessKeyId).ExecuteDeleteAsync(cancellationToken) > 0;
}

/// <summary>S3's bucket naming rules, and this gateway's reserved names.</summary>
public static class BucketNames
{
    public static void Validate(string name)
    {
        if (S3Target.ReservedNames.Contains(name))
        {
            throw S3Errors.InvalidBucketName($"The bucket name {name} is reserved: the gateway serves its REST API at /{name}.");
        }

        var valid = name.Length is >= 3 and <= 63
            && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-')
            && char.IsAsciiLetterOrDigit(name[0]) && char.IsAsciiLetterOrDigit(name[^1])
            && !name.Contains("..", StringComparison.Ordinal)
            && !System.Net.IPAddress.TryParse(name, out _);
        if (!valid)
        {
            throw S3Errors.InvalidBucketName("The specified bucket is not valid: 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, not an IP address.");
        }
    }
}
