using System.Threading.RateLimiting;

namespace S3Storage.Gateway.Maintenance;

/// <summary>
/// Holds maintenance copies to a byte rate so they never starve client traffic: a token bucket
/// of one token per byte, refilled every 100 ms, at most a second's worth banked. A copy is
/// charged once it is done; the next one waits for the bucket to refill.
/// </summary>
public sealed class CopyThrottle : IDisposable
{
    private static readonly TimeSpan RefillPeriod = TimeSpan.FromMilliseconds(100);

    private readonly TokenBucketRateLimiter? _bucket;
    private readonly int _burst;

    /// <param name="bytesPerSecond">The rate; 0 for none.</param>
    public CopyThrottle(long bytesPerSecond)
    {
        if (bytesPerSecond <= 0)
        {
            return;
        }

        // A bucket counts in ints: rates past 2 GiB/s are as good as unlimited here.
        _burst = (int)Math.Min(bytesPerSecond, int.MaxValue);
        _bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = _burst,
            TokensPerPeriod = Math.Max(1, _burst / 10),
            ReplenishmentPeriod = RefillPeriod,
            QueueLimit = _burst,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    /// <summary>Charges <paramref name="bytes"/> copied, waiting until the rate allows them.</summary>
    public async Task ChargeAsync(long bytes, CancellationToken cancellationToken)
    {
        if (_bucket is null)
        {
            return;
        }

        // No lease may ask for more than the bucket holds: a chunk larger than a second's
        // worth is charged a second's worth at a time.
        while (bytes > 0)
        {
            var part = (int)Math.Min(bytes, _burst);
            using var lease = await _bucket.AcquireAsync(part, cancellationToken);
            bytes -= part;
        }
    }

    public void Dispose() => _bucket?.Dispose();
}
