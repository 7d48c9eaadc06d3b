using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Access;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Gateway.Access;

/// <summary>A key as authentication sees it: its secret in clear, for the request's lifetime and the gateway's short cache only.</summary>
public sealed class KnownAccessKey(string accessKeyId, string name, AccessRole role, string secret, DateTimeOffset? expiresAt, DateTimeOffset? revokedAt, bool configured)
{
    public string AccessKeyId { get; } = accessKeyId;

    public string Name { get; } = name;

    public AccessRole Role { get; } = role;

    /// <summary>Whether the key comes from configuration (the first admin key) rather than the database.</summary>
    public bool Configured { get; } = configured;

    public DateTimeOffset? ExpiresAt { get; } = expiresAt;

    public DateTimeOffset? RevokedAt { get; } = revokedAt;

    /// <summary>The secret, for Signature V4 (the S3 API) to compute an HMAC with.</summary>
    public string Secret { get; } = secret;

    /// <summary>Constant-time: the time a comparison takes says nothing about the secret.</summary>
    public bool SecretMatches(string presented) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(presented), Encoding.ASCII.GetBytes(Secret));

    /// <summary>Who a request signed with this key is, whichever scheme proved it: the same claims, so roles and rate limits apply alike.</summary>
    public ClaimsPrincipal ToPrincipal(string scheme) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, AccessKeyId),
                new Claim(ClaimTypes.Name, Name),
                new Claim(ClaimTypes.Role, AccessRoles.Name(Role)),
            ],
            scheme,
            ClaimTypes.Name,
            ClaimTypes.Role));

    /// <summary>Never the secret.</summary>
    public override string ToString() => $"{AccessKeyId} ({Name}, {AccessRoles.Name(Role)})";
}

/// <summary>What <c>GET /admin/keys</c> shows of a key: never its secret.</summary>
public sealed record AccessKeyDescription(
    string AccessKeyId,
    string Name,
    string Role,
    string Source,
    DateTimeOffset? CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt);

public enum RevokeOutcome
{
    Revoked,
    NotFound,
    Configured,
}

/// <summary>
/// Access keys in the metadata database. Secrets are encrypted with ASP.NET Core Data
/// Protection, whose key ring is in the same database, so any gateway decrypts what another
/// wrote; the clear secret is returned once, at creation.
/// </summary>
public sealed class AccessKeyStore(MetadataDbContext db, IDataProtectionProvider dataProtection, IOptions<AccessOptions> options)
{
    /// <summary>The Data Protection purpose: a protector for anything else cannot read these.</summary>
    public const string Purpose = "S3Storage.AccessKeys.Secret.v1";

    public const string ConfiguredSource = "configuration";
    public const string DatabaseSource = "database";

    private readonly IDataProtector _protector = dataProtection.CreateProtector(Purpose);

    public async Task<(AccessKey Key, AccessKeyToken Token)> CreateAsync(string name, AccessRole role, DateTimeOffset? expiresAt, CancellationToken cancellationToken)
    {
        var token = AccessKeyToken.Generate();
        var key = new AccessKey
        {
            AccessKeyId = token.AccessKeyId,
            Name = name,
            Role = role,
            ProtectedSecret = _protector.Protect(token.Secret),
            CreatedAt = DateTimeOffset.UtcNow,
            ExpiresAt = expiresAt,
        };
        db.AccessKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken);
        return (key, token);
    }

    public async Task<IReadOnlyList<AccessKeyDescription>> ListAsync(CancellationToken cancellationToken)
    {
        var stored = await db.AccessKeys.AsNoTracking().OrderBy(k => k.CreatedAt).ThenBy(k => k.AccessKeyId).ToListAsync(cancellationToken);
        var admin = options.Value.AdminToken;
        return
        [
            new AccessKeyDescription(admin.AccessKeyId, "admin (configuration)", AccessRoles.Admin, ConfiguredSource, null, null, null, null),
            .. stored.Select(k => new AccessKeyDescription(k.AccessKeyId, k.Name, AccessRoles.Name(k.Role), DatabaseSource, k.CreatedAt, k.LastUsedAt, k.ExpiresAt, k.RevokedAt)),
        ];
    }

    public async Task<RevokeOutcome> RevokeAsync(string accessKeyId, CancellationToken cancellationToken)
    {
        if (accessKeyId == options.Value.AdminToken.AccessKeyId)
        {
            return RevokeOutcome.Configured;
        }

        var now = DateTimeOffset.UtcNow;
        // Revoking twice keeps the first time: the record of when access ended stays true.
        var revoked = await db.AccessKeys.Where(k => k.AccessKeyId == accessKeyId)
            .ExecuteUpdateAsync(k => k.SetProperty(x => x.RevokedAt, x => x.RevokedAt ?? now), cancellationToken);
        return revoked == 0 ? RevokeOutcome.NotFound : RevokeOutcome.Revoked;
    }

    /// <summary>The key with this id, its secret decrypted; null when no such key exists.</summary>
    public async Task<KnownAccessKey?> FindAsync(string accessKeyId, CancellationToken cancellationToken)
    {
        var admin = options.Value.AdminToken;
        if (accessKeyId == admin.AccessKeyId)
        {
            return new KnownAccessKey(admin.AccessKeyId, "admin (configuration)", AccessRole.Admin, admin.Secret, null, null, configured: true);
        }

        var key = await db.AccessKeys.AsNoTracking().SingleOrDefaultAsync(k => k.AccessKeyId == accessKeyId, cancellationToken);
        return key is null
            ? null
            : new KnownAccessKey(key.AccessKeyId, key.Name, key.Role, _protector.Unprotect(key.ProtectedSecret), key.ExpiresAt, key.RevokedAt, configured: false);
    }

    public Task RecordUseAsync(string accessKeyId, DateTimeOffset at, CancellationToken cancellationToken) =>
        db.AccessKeys.Where(k => k.AccessKeyId == accessKeyId && (k.LastUsedAt == null || k.LastUsedAt < at))
            .ExecuteUpdateAsync(k => k.SetProperty(x => x.LastUsedAt, at), cancellationToken);
}
