using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;

namespace S3Storage.Contracts.Metadata.Configurations;

internal sealed class StoredChunkConfiguration : IEntityTypeConfiguration<StoredChunk>
{
    public void Configure(EntityTypeBuilder<StoredChunk> chunk)
    {
        chunk.ToTable("chunks", table =>
        {
            table.HasCheckConstraint("ck_chunks_chunk_number", $"chunk_number BETWEEN 0 AND {ChunkPlanner.ChunksPerFile - 1}");
            table.HasCheckConstraint("ck_chunks_chunk_size", "chunk_size >= 0");
            table.HasCheckConstraint("ck_chunks_chunk_hash", StatusColumns.Sha256Check("chunk_hash"));
            table.HasCheckConstraint("ck_chunks_upload_status", StatusColumns.CheckIn<UploadStatus>("upload_status"));
        });

        chunk.HasKey(c => c.ChunkId);
        chunk.Property(c => c.ChunkId).ValueGeneratedNever();
        chunk.Property(c => c.ChunkHash).HasMaxLength(64).IsFixedLength();
        chunk.Property(c => c.UploadStatus).HasConversion(StatusColumns.Converter<UploadStatus>());

        chunk.HasIndex(c => new { c.FileId, c.ChunkNumber }).IsUnique();

        chunk.HasMany(c => c.Replicas).WithOne(r => r.Chunk).HasForeignKey(r => r.ChunkId).OnDelete(DeleteBehavior.Cascade);
    }
}
