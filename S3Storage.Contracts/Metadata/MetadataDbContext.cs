using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Metadata;

/// <summary>The metadata store. EF Core owns the schema; migrations are the only way it changes.</summary>
public sealed class MetadataDbContext(DbContextOptions<MetadataDbContext> options) : DbContext(options)
{
    public DbSet<StoredFile> Files => Set<StoredFile>();

    public DbSet<StoredChunk> Chunks => Set<StoredChunk>();

    public DbSet<ChunkReplica> ChunkReplicas => Set<ChunkReplica>();

    public DbSet<StorageServer> StorageServers => Set<StorageServer>();

    public DbSet<HashRingNode> HashRingNodes => Set<HashRingNode>();

    public DbSet<UploadSession> UploadSessions => Set<UploadSession>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(MetadataDbContext).Assembly);
        modelBuilder.HasDbFunction(typeof(DatabaseClock).GetMethod(nameof(DatabaseClock.Now))!).HasName("now").IsBuiltIn();
        SnakeCaseNames.Apply(modelBuilder);
    }
}
