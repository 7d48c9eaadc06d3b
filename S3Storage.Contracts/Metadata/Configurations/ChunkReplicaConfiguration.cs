using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Metadata.Configurations;

internal sealed class ChunkReplicaConfiguration : IEntityTypeConfiguration<ChunkReplica>
{
    public void Configure(EntityTypeBuilder<ChunkReplica> replica)
    {
        replica.ToTable("chunk_replicas", table =>
            table.HasCheckConstraint("ck_chunk_replicas_status", StatusColumns.CheckIn<ReplicaStatus>("status")));

        replica.HasKey(r => new { r.ChunkId, r.ServerId });
        replica.Property(r => r.Status).HasConversion(StatusColumns.Converter<ReplicaStatus>());
        replica.Property(r => r.CreatedAt).HasDefaultValueSql("now()").ValueGeneratedOnAdd();

        // Repair and drain ask "what does this server hold?".
        replica.HasIndex(r => new { r.ServerId, r.Status });

        // A server row is only deleted once repair has moved its replicas away.
        replica.HasOne(r => r.Server).WithMany().HasForeignKey(r => r.ServerId).OnDelete(DeleteBehavior.Restrict);
    }
}
