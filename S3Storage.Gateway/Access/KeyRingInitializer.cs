using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata;

namespace S3Storage.Gateway.Access;

/// <summary>
/// Makes sure the shared Data Protection key ring has its key before the gateway serves. Two
/// gateways starting on an empty ring would each create a key, and either might fail to read
/// what the other encrypted until its ring reloads (the cache lasts up to a day); under an
/// advisory lock the second finds the first one's key. Later keys are created days before they are used, so every
/// gateway has loaded them by then.
/// </summary>
internal sealed partial class KeyRingInitializer(IServiceScopeFactory scopes, IDataProtectionProvider dataProtection, ILogger<KeyRingInitializer> logger) : IHostedService
{
    /// <summary>Advisory lock key: the ASCII bytes of "S3SKEYRG".</summary>
    private const long AdvisoryLockKey = 0x5333534B45595247;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
        await AdvisoryLock.RunAsync(db, AdvisoryLockKey, async () =>
        {
            // The first protect loads the ring, and creates and stores a key if it has none.
            var protector = dataProtection.CreateProtector(AccessKeyStore.Purpose);
            _ = protector.Unprotect(protector.Protect("key ring check"));
            LogReady(logger, await db.DataProtectionKeys.CountAsync(cancellationToken));
        }, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Data Protection key ring ready ({Keys} keys in the metadata database)")]
    private static partial void LogReady(ILogger logger, int keys);
}
