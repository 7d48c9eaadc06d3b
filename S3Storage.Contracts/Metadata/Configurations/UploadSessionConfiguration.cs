using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Metadata.Configurations;

internal sealed class UploadSessionConfiguration : IEntityTypeConfiguration<UploadSession>
{
    public void Configure(EntityTypeBuilder<UploadSession> session)
    {
        session.ToTable("upload_sessions", table =>
        {
            table.HasCheckConstraint("ck_upload_sessions_status", StatusColumns.CheckIn<SessionStatus>("status"));
            table.HasCheckConstraint("ck_upload_sessions_expires_at", "expires_at >= started_at");
            table.HasCheckConstraint("ck_upload_sessions_last_activity", "last_activity >= started_at");
            table.HasCheckConstraint("ck_upload_sessions_bytes_received", "bytes_received >= 0");
        });

        session.HasKey(s => s.SessionId);
        session.Property(s => s.SessionId).ValueGeneratedNever();
        session.Property(s => s.ClientIp).HasColumnType("inet");
        session.Property(s => s.Status).HasConversion(StatusColumns.Converter<SessionStatus>());

        // The cleanup job asks for active sessions past their expiry.
        session.HasIndex(s => new { s.Status, s.ExpiresAt });
        session.HasIndex(s => s.FileId);
    }
}
