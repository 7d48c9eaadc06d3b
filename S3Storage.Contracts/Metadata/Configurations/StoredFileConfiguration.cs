using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;

namespace S3Storage.Contracts.Metadata.Configurations;

internal sealed class StoredFileConfiguration : IEntityTypeConfiguration<StoredFile>
{
    public void Configure(EntityTypeBuilder<StoredFile> file)
    {
        file.ToTable("files", table =>
        {
            table.HasCheckConstraint("ck_files_total_size", $"total_size BETWEEN 0 AND {ChunkPlanner.DefaultMaxFileSize}");
            table.HasCheckConstraint("ck_files_chunk_size", "chunk_size BETWEEN 0 AND total_size");
            table.HasCheckConstraint("ck_files_num_chunks", $"num_chunks = {ChunkPlanner.ChunksPerFile}");
            table.HasCheckConstraint("ck_files_upload_status", StatusColumns.CheckIn<UploadStatus>("upload_status"));
            table.HasCheckConstraint("ck_files_checksum", StatusColumns.Sha256Check("checksum"));
            table.HasCheckConstraint("ck_files_filename", "char_length(filename) BETWEEN 1 AND 1024");
            table.HasCheckConstraint("ck_files_metadata", "metadata IS NULL OR jsonb_typeof(metadata) = 'object'");
            // "Never report completed before every replica acknowledged": a completed file
            // always carries its checksum and completion time.
            table.HasCheckConstraint(
                "ck_files_completed",
                "upload_status <> 'completed' OR (checksum IS NOT NULL AND completed_at IS NOT NULL)");
        });

        file.HasKey(f => f.FileId);
        file.Property(f => f.FileId).ValueGeneratedNever();
        file.Property(f => f.Filename).IsRequired();
        file.Property(f => f.ContentType).IsRequired().HasMaxLength(255);
        file.Property(f => f.UploadStatus).HasConversion(StatusColumns.Converter<UploadStatus>());
        file.Property(f => f.Checksum).HasMaxLength(64).IsFixedLength();
        file.Property(f => f.Metadata).HasColumnType("jsonb");
        file.Property(f => f.CreatedAt).HasDefaultValueSql("now()").ValueGeneratedOnAdd();
        file.Property(f => f.UpdatedAt).HasDefaultValueSql("now()").ValueGeneratedOnAddOrUpdate();

        // GET /files lists newest first, optionally filtered by status, the id breaking ties; a
        // cursor page is a row comparison on (created_at, file_id), served by the same indexes.
        file.HasIndex(f => new { f.CreatedAt, f.FileId }).IsDescending();
        file.HasIndex(f => new { f.UploadStatus, f.CreatedAt, f.FileId }).IsDescending(false, true, true);

        file.HasMany(f => f.Chunks).WithOne(c => c.File).HasForeignKey(c => c.FileId).OnDelete(DeleteBehavior.Cascade);
        file.HasMany(f => f.Sessions).WithOne(s => s.File).HasForeignKey(s => s.FileId).OnDelete(DeleteBehavior.Cascade);
    }
}
