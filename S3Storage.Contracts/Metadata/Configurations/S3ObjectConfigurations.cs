using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using S3Storage.Contracts.Access;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Metadata.Configurations;

/// <summary>S3 keys order by UTF-8 bytes: PostgreSQL's "C" collation compares exactly so.</summary>
internal static class ObjectKeys
{
    public const string Collation = "C";

    /// <summary>S3's limit, in UTF-8 bytes.</summary>
    public const int MaxKeyBytes = 1024;

    public const string KeyCheck = "octet_length(key) BETWEEN 1 AND 1024";
}

internal sealed class BucketConfiguration : IEntityTypeConfiguration<Bucket>
{
    public void Configure(EntityTypeBuilder<Bucket> bucket)
    {
        bucket.ToTable("buckets", table =>
            table.HasCheckConstraint("ck_buckets_name", "name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'"));
        bucket.HasKey(b => b.Name);
        bucket.Property(b => b.Name).HasMaxLength(63).UseCollation(ObjectKeys.Collation);
        bucket.Property(b => b.OwnerAccessKeyId).HasMaxLength(AccessKeyToken.KeyIdLength);
        bucket.Property(b => b.CreatedAt).HasDefaultValueSql("now()").ValueGeneratedOnAdd();
    }
}

internal sealed class BucketGrantConfiguration : IEntityTypeConfiguration<BucketGrant>
{
    public void Configure(EntityTypeBuilder<BucketGrant> grant)
    {
        grant.ToTable("bucket_grants", table =>
            table.HasCheckConstraint("ck_bucket_grants_permission", StatusColumns.CheckIn<BucketPermission>("permission")));
        grant.HasKey(g => new { g.BucketName, g.AccessKeyId });
        grant.Property(g => g.AccessKeyId).HasMaxLength(AccessKeyToken.KeyIdLength);
        grant.Property(g => g.Permission).HasConversion(StatusColumns.Converter<BucketPermission>());
        grant.HasIndex(g => g.AccessKeyId);
        grant.HasOne<Bucket>().WithMany().HasForeignKey(g => g.BucketName).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class StoredObjectConfiguration : IEntityTypeConfiguration<StoredObject>
{
    public void Configure(EntityTypeBuilder<StoredObject> storedObject)
    {
        storedObject.ToTable("objects", table =>
        {
            table.HasCheckConstraint("ck_objects_key", ObjectKeys.KeyCheck);
            table.HasCheckConstraint("ck_objects_size", "size >= 0");
            table.HasCheckConstraint("ck_objects_headers", "headers IS NULL OR jsonb_typeof(headers) = 'object'");
        });
        storedObject.HasKey(o => o.ObjectId);
        storedObject.Property(o => o.ObjectId).ValueGeneratedNever();
        storedObject.Property(o => o.Key).UseCollation(ObjectKeys.Collation);
        storedObject.Property(o => o.Etag).HasMaxLength(48);
        storedObject.Property(o => o.ContentType).HasMaxLength(255);
        storedObject.Property(o => o.Headers).HasColumnType("jsonb");
        // One object per key, and listing walks this index in key order.
        storedObject.HasIndex(o => new { o.BucketName, o.Key }).IsUnique();
        // A bucket is deleted only when it is empty.
        storedObject.HasOne<Bucket>().WithMany().HasForeignKey(o => o.BucketName).OnDelete(DeleteBehavior.Restrict);
        storedObject.HasMany(o => o.Blobs).WithOne().HasForeignKey(b => b.ObjectId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ObjectBlobConfiguration : IEntityTypeConfiguration<ObjectBlob>
{
    public void Configure(EntityTypeBuilder<ObjectBlob> blob)
    {
        blob.ToTable("object_blobs", table => table.HasCheckConstraint("ck_object_blobs_ordinal", "ordinal >= 0"));
        blob.HasKey(b => new { b.ObjectId, b.Ordinal });
        // A blob an object points at cannot be deleted under it (DELETE /files answers 409).
        blob.HasOne(b => b.File).WithMany().HasForeignKey(b => b.FileId).OnDelete(DeleteBehavior.Restrict);
        blob.HasIndex(b => b.FileId).IsUnique();
    }
}

internal sealed class MultipartUploadConfiguration : IEntityTypeConfiguration<MultipartUpload>
{
    public void Configure(EntityTypeBuilder<MultipartUpload> upload)
    {
        upload.ToTable("multipart_uploads", table =>
        {
            table.HasCheckConstraint("ck_multipart_uploads_key", ObjectKeys.KeyCheck);
            table.HasCheckConstraint("ck_multipart_uploads_headers", "headers IS NULL OR jsonb_typeof(headers) = 'object'");
        });
        upload.HasKey(u => u.UploadId);
        upload.Property(u => u.UploadId).HasMaxLength(64);
        upload.Property(u => u.Key).UseCollation(ObjectKeys.Collation);
        upload.Property(u => u.InitiatorAccessKeyId).HasMaxLength(AccessKeyToken.KeyIdLength);
        upload.Property(u => u.ContentType).HasMaxLength(255);
        upload.Property(u => u.Headers).HasColumnType("jsonb");
        upload.Property(u => u.CompletedEtag).HasMaxLength(48);
        // ListMultipartUploads walks a bucket's uploads in key order; the sweep finds old ones by age.
        upload.HasIndex(u => new { u.BucketName, u.Key, u.CreatedAt });
        upload.HasIndex(u => u.CreatedAt);
        upload.HasOne<Bucket>().WithMany().HasForeignKey(u => u.BucketName).OnDelete(DeleteBehavior.Restrict);
        upload.HasMany(u => u.Parts).WithOne().HasForeignKey(p => p.UploadId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class MultipartPartConfiguration : IEntityTypeConfiguration<MultipartPart>
{
    public void Configure(EntityTypeBuilder<MultipartPart> part)
    {
        part.ToTable("multipart_parts", table =>
        {
            table.HasCheckConstraint("ck_multipart_parts_part_number", "part_number BETWEEN 1 AND 10000");
            table.HasCheckConstraint("ck_multipart_parts_etag", "etag ~ '^[0-9a-f]{32}$'");
        });
        part.HasKey(p => new { p.UploadId, p.PartNumber });
        part.Property(p => p.Etag).HasMaxLength(32).IsFixedLength();
        part.HasOne<StoredFile>().WithMany().HasForeignKey(p => p.FileId).OnDelete(DeleteBehavior.Restrict);
        part.HasIndex(p => p.FileId).IsUnique();
    }
}

internal sealed class ReleasedBlobConfiguration : IEntityTypeConfiguration<ReleasedBlob>
{
    public void Configure(EntityTypeBuilder<ReleasedBlob> released)
    {
        released.ToTable("released_blobs");
        released.HasKey(r => r.FileId);
        released.Property(r => r.FileId).ValueGeneratedNever();
        // Deleting the blob's file ends its release.
        released.HasOne<StoredFile>().WithMany().HasForeignKey(r => r.FileId).OnDelete(DeleteBehavior.Cascade);
        released.HasIndex(r => r.ReleasedAt);
    }
}
