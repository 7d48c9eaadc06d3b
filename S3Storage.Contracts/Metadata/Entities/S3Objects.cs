namespace S3Storage.Contracts.Metadata.Entities;

/// <summary>What a key may do in one bucket beyond its role (table <c>bucket_grants</c>). Stored as <c>read</c>, <c>write</c>, <c>owner</c>.</summary>
public enum BucketPermission
{
    /// <summary>List and read objects.</summary>
    Read,

    /// <summary>Read, plus write and delete objects.</summary>
    Write,

    /// <summary>Write, plus delete the bucket.</summary>
    Owner,
}

/// <summary>An S3 bucket (table <c>buckets</c>): a namespace of object keys.</summary>
public sealed class Bucket
{
    /// <summary>3 to 63 characters of S3's DNS-safe bucket names.</summary>
    public required string Name { get; set; }

    /// <summary>The key that created it; it owns it (a grant row says so too).</summary>
    public required string OwnerAccessKeyId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>One key's permission on one bucket (table <c>bucket_grants</c>).</summary>
public sealed class BucketGrant
{
    public required string BucketName { get; set; }

    public required string AccessKeyId { get; set; }

    public BucketPermission Permission { get; set; }
}

/// <summary>
/// An S3 object (table <c>objects</c>): a key in a bucket pointing at an ordered list of blobs,
/// each blob a stored file of the design's six chunks (one for PutObject, one per multipart part).
/// </summary>
public sealed class StoredObject
{
    public Guid ObjectId { get; set; }

    public required string BucketName { get; set; }

    /// <summary>Compared and ordered in UTF-8 byte order (<c>COLLATE "C"</c>), as S3 lists keys.</summary>
    public required string Key { get; set; }

    public long Size { get; set; }

    /// <summary>Without quotes: the content's MD5 in hex, or for multipart the MD5 of the parts' MD5s and <c>-N</c>.</summary>
    public required string Etag { get; set; }

    public required string ContentType { get; set; }

    /// <summary>The headers stored with the object (<c>x-amz-meta-*</c>, Cache-Control, …) as a JSON object.</summary>
    public string? Headers { get; set; }

    public DateTimeOffset LastModified { get; set; }

    public List<ObjectBlob> Blobs { get; set; } = [];
}

/// <summary>The <see cref="Ordinal"/>-th blob of an object (table <c>object_blobs</c>).</summary>
public sealed class ObjectBlob
{
    public Guid ObjectId { get; set; }

    public int Ordinal { get; set; }

    public Guid FileId { get; set; }

    public StoredFile? File { get; set; }
}

/// <summary>
/// A multipart upload (table <c>multipart_uploads</c>). Kept a while after completion, with
/// the result, so a repeated Complete answers the same as the first.
/// </summary>
public sealed class MultipartUpload
{
    public required string UploadId { get; set; }

    public required string BucketName { get; set; }

    public required string Key { get; set; }

    public required string InitiatorAccessKeyId { get; set; }

    public required string ContentType { get; set; }

    public string? Headers { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    /// <summary>The object's ETag once completed.</summary>
    public string? CompletedEtag { get; set; }

    public List<MultipartPart> Parts { get; set; } = [];
}

/// <summary>One uploaded part (table <c>multipart_parts</c>); uploading the same number again replaces it.</summary>
public sealed class MultipartPart
{
    public required string UploadId { get; set; }

    public int PartNumber { get; set; }

    public Guid FileId { get; set; }

    public long Size { get; set; }

    /// <summary>The part's MD5 in hex.</summary>
    public required string Etag { get; set; }

    public DateTimeOffset UploadedAt { get; set; }
}

/// <summary>
/// A blob no object or part points at any more (table <c>released_blobs</c>), written in the
/// same transaction that let go of it: the gateway deletes it right after, and if the gateway
/// dies first, the maintenance sweep does.
/// </summary>
public sealed class ReleasedBlob
{
    public Guid FileId { get; set; }

    public DateTimeOffset ReleasedAt { get; set; }
}
