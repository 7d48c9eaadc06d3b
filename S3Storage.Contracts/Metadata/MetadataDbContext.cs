using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Metadata;

/// <summary>The metadata store. EF Core owns the schema; migrations are the only way it changes.</summary>
public sealed class MetadataDbContext(DbContextOptions<MetadataDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<StoredFile> Files => Set<StoredFile>();

    public DbSet<StoredChunk> Chunks => Set<StoredChunk>();

    public DbSet<ChunkReplica> ChunkReplicas => Set<ChunkReplica>();

    public DbSet<StorageServer> StorageServers => Set<StorageServer>();

    public DbSet<HashRingNode> HashRingNodes => Set<HashRingNode>();

    public DbSet<UploadSession> UploadSessions => Set<UploadSession>();

    public DbSet<AccessKey> AccessKeys => Set<AccessKey>();

    public DbSet<Bucket> Buckets => Set<Bucket>();

    public DbSet<BucketGrant> BucketGrants => Set<BucketGrant>();

    public DbSet<StoredObject> Objects => Set<StoredObject>();

    public DbSet<ObjectBlob> ObjectBlobs => Set<ObjectBlob>();

    public DbSet<MultipartUpload> MultipartUploads => Set<MultipartUpload>();

    public DbSet<MultipartPart> MultipartParts => Set<MultipartPart>();

    public DbSet<ReleasedBlob> ReleasedBlobs => Set<ReleasedBlob>();

    /// <summary>
    /// The gateways' Data Protection key ring, shared through the database so that every
    /// gateway can decrypt the access key secrets another one encrypted.
    /// </summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(MetadataDbContext).Assembly);
        modelBuilder.Entity<DataProtectionKey>().ToTable("data_protection_keys");
        modelBuilder.HasDbFunction(typeof(DatabaseClock).GetMethod(nameof(DatabaseClock.Now))!).HasName("now").IsBuiltIn();
        SnakeCaseNames.Apply(modelBuilder);
    }
}
