using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace S3Storage.Gateway.Access;

/// <summary>
/// ASP.NET Core's rate limiter, partitioned by access key (by client address for requests
/// without a valid key, failed attempts included): a token bucket of requests for every
/// call, and a cap on concurrent uploads per key. Probes opt out with DisableRateLimiting.
/// </summary>
public static class RequestLimits
{
    /// <summary>The endpoint policy for uploads: concurrent uploads per key.</summary>
    public const string Uploads = "uploads";

    public static void Configure(RateLimiterOptions limiter)
    {
        limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
        {
            var limits = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
            return KeyOf(context) is { } keyId
                ? RateLimitPartition.GetTokenBucketLimiter("key:" + keyId, _ => Bucket(limits.RequestsPerSecond, limits.Burst))
                : RateLimitPartition.GetTokenBucketLimiter("address:" + AddressOf(context), _ => Bucket(limits.AnonymousRequestsPerSecond, limits.AnonymousBurst));
        });
        limiter.AddPolicy(Uploads, context =>
        {
            var limits = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
            return RateLimitPartition.GetConcurrencyLimiter(
                KeyOf(context) ?? "address:" + AddressOf(context),
                _ => new ConcurrencyLimiterOptions { PermitLimit = limits.ConcurrentUploadsPerKey, QueueLimit = 0 });
        });
        limiter.OnRejected = RejectAsync;
    }

    private static TokenBucketRateLimiterOptions Bucket(int perSecond, int burst) => new()
    {
        TokenLimit = burst,
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static string? KeyOf(HttpContext context) => context.User.FindFirstValue(ClaimTypes.NameIdentifier);

    private static string AddressOf(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        // A token bucket says when its next token comes; only the concurrency limit on uploads
        // rejects without saying, since no one can predict when an upload ends: a second is a
        // fair guess there.
        var concurrency = !rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait);
        var seconds = concurrency ? 1 : Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var limits = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        if (context.GetEndpoint()?.Metadata.GetMetadata<S3.S3EndpointMarker>() is not null)
        {
            // S3 clients back off and retry on SlowDown (503), not on 429.
            await S3.S3Api.WriteErrorAsync(context, S3.S3Errors.SlowDown($"Reduce your request rate. Retry after {seconds} s."), context.Request.Path);
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return;
        }

        var who = KeyOf(context) is { } keyId ? $"access key {keyId}" : $"client {AddressOf(context)} (no valid key)";
        var detail = concurrency
            ? $"Too many requests at once for {who}: at most {limits.ConcurrentUploadsPerKey} uploads run at the same time per key. Retry after {seconds} s."
            : $"Too many requests for {who}. Retry after {seconds} s.";
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = StatusCodes.Status429TooManyRequests, Title = "Too many requests", Detail = detail },
        });
    }
}
