using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace S3Storage.Contracts.Metadata;

/// <summary>
/// Brings the schema up to date before the host starts serving: hosted services start, in
/// order, before the web server accepts requests.
/// </summary>
internal sealed class MetadataMigrationService(IServiceScopeFactory scopes, ILogger<MetadataMigrationService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MetadataDbContext>();
        await MetadataMigrator.MigrateAsync(db, logger, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
