using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace S3Storage.Contracts.Metadata;

/// <summary>
/// Whether the metadata database answers. Replaces the check Aspire's integration registers,
/// which reported a probe its caller had abandoned (the orchestrator's request cancelled
/// mid-query) as an unhealthy database and logged it as an error; here the caller's
/// cancellation goes back to the caller, and only the database's own failures are unhealthy.
/// </summary>
public sealed class MetadataDatabaseHealthCheck(MetadataDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await db.Database.CanConnectAsync(cancellationToken)
                ? HealthCheckResult.Healthy()
                : new HealthCheckResult(context.Registration.FailureStatus, "The metadata database cannot be reached.");
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, e.Message, e);
        }
    }
}
