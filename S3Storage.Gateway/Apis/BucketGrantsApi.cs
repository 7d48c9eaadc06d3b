using Microsoft.AspNetCore.Http.HttpResults;
using S3Storage.Contracts.Access;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Access;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.S3.Buckets;

namespace S3Storage.Gateway.Apis;

/// <summary>The body of <c>PUT /admin/buckets/{bucket}/grants/{key}</c>.</summary>
public sealed record GrantRequest(string? Permission);

public sealed record BucketGrantDescription(string Bucket, string AccessKeyId, string Permission);

/// <summary>
/// Per-bucket grants for the S3 API, for admin keys: one store serves several tenants, each
/// key reaching the buckets it created or was granted (read, write, owner) within its role.
/// </summary>
public static class BucketGrantsApi
{
    public static IEndpointRouteBuilder MapBucketGrantsApi(this IEndpointRouteBuilder app)
    {
        var grants = app.MapGroup("/admin/buckets/{bucket}/grants").WithTags("Bucket grants").RequireAuthorization(AccessPolicies.Admin);
        grants.MapPut("/{key}", Grant)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName("GrantBucket")
            .WithSummary("Gives an access key a permission on a bucket: {\"permission\": read|write|owner}.");
        grants.MapDelete("/{key}", Revoke)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName("RevokeBucketGrant")
            .WithSummary("Takes a key's grant on a bucket away (the bucket's owner keeps ownership).");
        return app;
    }

    public static async Task<Results<Ok<BucketGrantDescription>, ProblemHttpResult>> Grant(string bucket, string key, GrantRequest? request, BucketStore buckets, CancellationToken cancellationToken)
    {
        if (!AccessKeyToken.IsKeyId(key))
        {
            return StoreProblems.Result(StoreFailure.InvalidRequest, "Invalid key id", $"'{key}' is not an access key id ({AccessKeyToken.KeyIdPrefix} and 16 more characters).");
        }

        if (!Enum.TryParse<BucketPermission>(request?.Permission, ignoreCase: true, out var permission) || int.TryParse(request?.Permission, out _))
        {
            return StoreProblems.Result(StoreFailure.InvalidRequest, "Invalid permission", $"'{request?.Permission}' is not a permission: expected read, write or owner.");
        }

        return await buckets.GrantAsync(bucket, key, permission, cancellationToken)
            ? TypedResults.Ok(new BucketGrantDescription(bucket, key, permission.ToString().ToLowerInvariant()))
            : StoreProblems.Result(StoreFailure.FileNotFound, "Bucket not found", $"No bucket is called '{bucket}'.");
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> Revoke(string bucket, string key, BucketStore buckets, CancellationToken cancellationToken) =>
        await buckets.RevokeAsync(bucket, key, cancellationToken)
            ? TypedResults.NoContent()
            : StoreProblems.Result(StoreFailure.FileNotFound, "Grant not found", $"Key {key} has no grant on bucket '{bucket}'.");
}
