using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Access;

/// <summary>The names roles have in the API, the database and claims.</summary>
public static class AccessRoles
{
    public const string Admin = "admin";
    public const string ReadWrite = "read-write";
    public const string ReadOnly = "read-only";

    public const int MaxNameLength = 200;

    public static string Name(AccessRole role) => role switch
    {
        AccessRole.Admin => Admin,
        AccessRole.ReadWrite => ReadWrite,
        AccessRole.ReadOnly => ReadOnly,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    public static AccessRole Parse(string name) =>
        TryParse(name, out var role) ? role : throw new ArgumentOutOfRangeException(nameof(name), name, "not a role");

    public static bool TryParse(string? name, out AccessRole role)
    {
        switch (name)
        {
            case Admin:
                role = AccessRole.Admin;
                return true;
            case ReadWrite:
                role = AccessRole.ReadWrite;
                return true;
            case ReadOnly:
                role = AccessRole.ReadOnly;
                return true;
            default:
                role = default;
                return false;
        }
    }
}
