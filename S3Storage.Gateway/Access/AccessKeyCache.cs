using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace S3Storage.Gateway.Access;

/// <summary>
/// What this gateway read about each key, kept for <c>Access:CacheDuration</c>: one database
/// read and one decryption per key and period instead of per request. The duration bounds how
/// long a key revoked through another gateway still works here.
/// </summary>
public sealed partial class AccessKeyCache(
    IMemoryCache cache,
    IServiceScopeFactory scopes,
    IOptions<AccessOptions> options,
    ILogger<AccessKeyCache> logger)
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastUseWritten = new(StringComparer.Ordinal);

    /// <summary>The key with this id (null when there is none), at most <c>Access:CacheDuration</c> old.</summary>
    public async Task<KnownAccessKey?> FindAsync(string accessKeyId, CancellationToken cancellationToken)
    {
        var cacheKey = CacheKey(accessKeyId);
        if (cache.TryGetValue(cacheKey, out KnownAccessKey? known))
        {
            return known;
        }

        await using var scope = scopes.CreateAsyncScope();
        known = await scope.ServiceProvider.GetRequiredService<AccessKeyStore>().FindAsync(accessKeyId, cancellationToken);
        var duration = options.Value.CacheDuration;
        if (duration > TimeSpan.Zero)
        {
            // Unknown ids are remembered too: guessing ids must not cost a query each.
            cache.Set(cacheKey, known, duration);
        }

        return known;
    }

    /// <summary>Forgets a key at once on this gateway (revoked here); other gateways follow within the cache duration.</summary>
    public void Forget(string accessKeyId) => cache.Remove(CacheKey(accessKeyId));

    /// <summary>Records that the key was used, at most once per <c>Access:LastUsedInterval</c> on this gateway.</summary>
    public async Task RecordUseAsync(KnownAccessKey key, CancellationToken cancellationToken)
    {
        if (key.Configured)
        {
            return;
        }

        var now = DateTimeOffset.UtcNow;
        var last = _lastUseWritten.GetValueOrDefault(key.AccessKeyId);
        if (now - last < options.Value.LastUsedInterval || !_lastUseWritten.TryUpdate(key.AccessKeyId, now, last) && !_lastUseWritten.TryAdd(key.AccessKeyId, now))
        {
            return;
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<AccessKeyStore>().RecordUseAsync(key.AccessKeyId, now, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Bookkeeping: a request is not refused because its key's last-used time was not written.
            LogRecordUseFailed(logger, e, key.AccessKeyId);
        }
    }

    private static string CacheKey(string accessKeyId) => "access-key:" + accessKeyId;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the use of access key {AccessKeyId}")]
    private static partial void LogRecordUseFailed(ILogger logger, Exception exception, string accessKeyId);
}
