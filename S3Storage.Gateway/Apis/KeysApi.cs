using Microsoft.AspNetCore.Http.HttpResults;
using S3Storage.Contracts.Access;
using S3Storage.Gateway.Access;

namespace S3Storage.Gateway.Apis;

/// <summary>The body of <c>POST /admin/keys</c>.</summary>
public sealed record CreateKeyRequest(string? Name, string? Role, DateTimeOffset? ExpiresAt);

/// <summary>A new key: the only time its secret is shown.</summary>
public sealed record CreatedKey(
    string AccessKeyId,
    string SecretAccessKey,
    string Token,
    string Name,
    string Role,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt);

public sealed record KeyList(IReadOnlyList<AccessKeyDescription> Keys);

/// <summary>The <c>/admin/keys</c> resource: access keys, for admin keys only.</summary>
public static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/admin/keys").WithTags("Access keys").RequireAuthorization(AccessPolicies.Admin);
        keys.MapPost("/", CreateKey).ProducesProblem(StatusCodes.Status400BadRequest).WithName("CreateKey")
            .WithSummary("Creates an access key: {\"name\", \"role\": admin|read-write|read-only, \"expires_at\"?}. The secret is in this answer only.");
        keys.MapGet("/", ListKeys).WithName("ListKeys").WithSummary("Every access key, revoked and expired ones included; never a secret.");
        keys.MapDelete("/{id}", RevokeKey)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithName("RevokeKey").WithSummary("Revokes a key: every gateway refuses it within Access:CacheDuration.");
        return app;
    }

    public static async Task<Results<Created<CreatedKey>, ProblemHttpResult>> CreateKey(CreateKeyRequest? request, AccessKeyStore store, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            return Invalid("body", null, "a JSON object with name and role");
        }

        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > AccessRoles.MaxNameLength || name.Any(char.IsControl))
        {
            return Invalid("name", request.Name, $"1 to {AccessRoles.MaxNameLength} printable characters");
        }

        if (!AccessRoles.TryParse(request.Role, out var role))
        {
            return Invalid("role", request.Role, $"one of {AccessRoles.Admin}, {AccessRoles.ReadWrite}, {AccessRoles.ReadOnly}");
        }

        if (request.ExpiresAt is { } expiresAt && expiresAt <= DateTimeOffset.UtcNow)
        {
            return Invalid("expires_at", expiresAt.ToString("O"), "a time in the future");
        }

        var (key, token) = await store.CreateAsync(name, role, request.ExpiresAt, cancellationToken);
        return TypedResults.Created(
            $"/admin/keys/{key.AccessKeyId}",
            new CreatedKey(key.AccessKeyId, token.Secret, token.Value, key.Name, AccessRoles.Name(key.Role), key.CreatedAt, key.ExpiresAt));
    }

    public static async Task<Ok<KeyList>> ListKeys(AccessKeyStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(new KeyList(await store.ListAsync(cancellationToken)));

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(string id, AccessKeyStore store, AccessKeyCache cache, CancellationToken cancellationToken)
    {
        if (!AccessKeyToken.IsKeyId(id))
        {
            return TypedResults.Problem(
                $"'{id}' is not an access key id: ids are {AccessKeyToken.KeyIdLength} characters starting {AccessKeyToken.KeyIdPrefix}.",
                statusCode: StatusCodes.Status400BadRequest,
                title: "Invalid access key id");
        }

        switch (await store.RevokeAsync(id, cancellationToken))
        {
            case RevokeOutcome.Revoked:
                cache.Forget(id);
                return TypedResults.NoContent();
            case RevokeOutcome.Configured:
                return TypedResults.Problem(
                    $"Access key {id} is the admin key from configuration (Access:AdminKey): replace it there to retire it.",
                    statusCode: StatusCodes.Status409Conflict,
                    title: "The configured admin key cannot be revoked here");
            default:
                return TypedResults.Problem($"No access key has the id {id}.", statusCode: StatusCodes.Status404NotFound, title: "Access key not found");
        }
    }

    private static ProblemHttpResult Invalid(string field, string? value, string expected) =>
        TypedResults.Problem($"'{value}' is not a valid {field}: expected {expected}.", statusCode: StatusCodes.Status400BadRequest, title: $"Invalid {field}");
}
