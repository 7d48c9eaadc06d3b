using Microsoft.AspNetCore.Authorization;
using S3Storage.Contracts.Access;

namespace S3Storage.Gateway.Access;

/// <summary>Who may call what: one policy per kind of call, attached to endpoint groups.</summary>
public static class AccessPolicies
{
    /// <summary>Download, metadata, list: every role.</summary>
    public const string Read = "files:read";

    /// <summary>Upload and delete: admin and read-write.</summary>
    public const string Write = "files:write";

    /// <summary>Keys, nodes, repair, node details in /health: admin only.</summary>
    public const string Admin = "admin";

    public static void Add(AuthorizationOptions authorization)
    {
        authorization.AddPolicy(Read, policy => policy.RequireRole(AccessRoles.Admin, AccessRoles.ReadWrite, AccessRoles.ReadOnly));
        authorization.AddPolicy(Write, policy => policy.RequireRole(AccessRoles.Admin, AccessRoles.ReadWrite));
        authorization.AddPolicy(Admin, policy => policy.RequireRole(AccessRoles.Admin));
        // An endpoint that names no policy still needs a key: nothing is open by omission.
        authorization.FallbackPolicy = authorization.GetPolicy(Read);
    }

    /// <summary>What a policy asks for, for a 403's explanation.</summary>
    public static string? Describe(string? policy) => policy switch
    {
        Read => $"this call needs one of the roles {AccessRoles.Admin}, {AccessRoles.ReadWrite}, {AccessRoles.ReadOnly}",
        Write => $"this call needs the role {AccessRoles.ReadWrite} or {AccessRoles.Admin}",
        Admin => $"this call needs the role {AccessRoles.Admin}",
        _ => null,
    };
}
