using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using S3Storage.Contracts.Access;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Metadata.Configurations;

internal sealed class AccessKeyConfiguration : IEntityTypeConfiguration<AccessKey>
{
    public void Configure(EntityTypeBuilder<AccessKey> key)
    {
        key.ToTable("access_keys", table =>
        {
            table.HasCheckConstraint("ck_access_keys_role", $"role IN ({string.Join(", ", Enum.GetValues<AccessRole>().Select(r => $"'{AccessRoles.Name(r)}'"))})");
            table.HasCheckConstraint("ck_access_keys_access_key_id", $"access_key_id ~ '{AccessKeyToken.KeyIdPattern}'");
            table.HasCheckConstraint("ck_access_keys_expires_at", "expires_at IS NULL OR expires_at > created_at");
        });

        key.HasKey(k => k.AccessKeyId);
        key.Property(k => k.AccessKeyId).HasMaxLength(AccessKeyToken.KeyIdLength).ValueGeneratedNever();
        key.Property(k => k.Name).HasMaxLength(AccessRoles.MaxNameLength);
        key.Property(k => k.Role).HasConversion(new ValueConverter<AccessRole, string>(role => AccessRoles.Name(role), text => AccessRoles.Parse(text)));
        key.Property(k => k.ProtectedSecret);
    }
}
