using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace S3Storage.Contracts.Metadata;

/// <summary>
/// Lets <c>dotnet ef migrations add</c> build the model without a running service. Generating a
/// migration never connects, so the connection string only has to parse.
/// </summary>
internal sealed class DesignTimeMetadataDbContextFactory : IDesignTimeDbContextFactory<MetadataDbContext>
{
    public MetadataDbContext CreateDbContext(string[] args)
    {
        var connectionString = Environment.GetEnvironmentVariable("ConnectionStrings__metadata")
            ?? "Host=localhost;Database=metadata;Username=postgres";
        return new MetadataDbContext(new DbContextOptionsBuilder<MetadataDbContext>().UseNpgsql(connectionString).Options);
    }
}
