using System.ComponentModel.DataAnnotations;

namespace S3Storage.Gateway.Access;

/// <summary>
/// Request limits (section <c>RateLimits</c>, env <c>RateLimits__*</c>). Probes are never
/// limited. The per-key defaults stop a runaway client, not a busy one (S3 allows thousands of
/// requests a second per prefix); requests without a valid key, failed attempts included, get
/// little.
/// </summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "RateLimits";

    /// <summary>Sustained requests per second per access key (<c>RateLimits__RequestsPerSecond</c>).</summary>
    [Range(1, 1_000_000, ErrorMessage = "RateLimits:RequestsPerSecond must be between 1 and 1000000.")]
    public int RequestsPerSecond { get; set; } = 5000;

    /// <summary>Requests per key allowed at once above the sustained rate (<c>RateLimits__Burst</c>).</summary>
    [Range(1, 1_000_000, ErrorMessage = "RateLimits:Burst must be between 1 and 1000000.")]
    public int Burst { get; set; } = 10000;

    /// <summary>Sustained requests per second per client address without a valid key (<c>RateLimits__AnonymousRequestsPerSecond</c>): failed logins included.</summary>
    [Range(1, 1_000_000, ErrorMessage = "RateLimits:AnonymousRequestsPerSecond must be between 1 and 1000000.")]
    public int AnonymousRequestsPerSecond { get; set; } = 20;

    /// <summary>Burst for requests without a valid key (<c>RateLimits__AnonymousBurst</c>).</summary>
    [Range(1, 1_000_000, ErrorMessage = "RateLimits:AnonymousBurst must be between 1 and 1000000.")]
    public int AnonymousBurst { get; set; } = 40;

    /// <summary>Uploads one key may run at once (<c>RateLimits__ConcurrentUploadsPerKey</c>); each holds a stream to two nodes.</summary>
    [Range(1, 10_000, ErrorMessage = "RateLimits:ConcurrentUploadsPerKey must be between 1 and 10000.")]
    public int ConcurrentUploadsPerKey { get; set; } = 64;
}
