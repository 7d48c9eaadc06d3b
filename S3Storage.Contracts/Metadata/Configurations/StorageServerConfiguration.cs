using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Metadata.Configurations;

internal sealed class StorageServerConfiguration : IEntityTypeConfiguration<StorageServer>
{
    public void Configure(EntityTypeBuilder<StorageServer> server)
    {
        server.ToTable("storage_servers", table =>
        {
            table.HasCheckConstraint("ck_storage_servers_status", StatusColumns.CheckIn<ServerStatus>("status"));
            table.HasCheckConstraint("ck_storage_servers_available_space", "available_space >= 0");
            table.HasCheckConstraint("ck_storage_servers_used_space", "used_space >= 0");
            table.HasCheckConstraint("ck_storage_servers_total_chunks", "total_chunks >= 0");
            table.HasCheckConstraint("ck_storage_servers_name", "char_length(name) BETWEEN 1 AND 64");
            table.HasCheckConstraint("ck_storage_servers_grpc_address", "grpc_address ~ '^https?://[^/]+'");
            table.HasCheckConstraint("ck_storage_servers_metadata", "metadata IS NULL OR jsonb_typeof(metadata) = 'object'");
        });

        server.HasKey(s => s.ServerId);
        server.Property(s => s.ServerId).ValueGeneratedNever();
        server.Property(s => s.Name).IsRequired().HasMaxLength(64);
        server.Property(s => s.GrpcAddress).IsRequired().HasMaxLength(2048);
        server.Property(s => s.Status).HasConversion(StatusColumns.Converter<ServerStatus>());
        server.Property(s => s.RegisteredAt).HasDefaultValueSql("now()").ValueGeneratedOnAdd();
        server.Property(s => s.Metadata).HasColumnType("jsonb");

        server.HasIndex(s => s.GrpcAddress).IsUnique();
        server.HasIndex(s => s.Name);
        // Placement loads the live servers: active, with a recent heartbeat.
        server.HasIndex(s => new { s.Status, s.LastHeartbeat });

        server.HasMany(s => s.RingNodes).WithOne(n => n.Server).HasForeignKey(n => n.ServerId).OnDelete(DeleteBehavior.Cascade);
    }
}
