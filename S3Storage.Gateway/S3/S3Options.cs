using System.ComponentModel.DataAnnotations;

namespace S3Storage.Gateway.S3;

/// <summary>The S3 API (section <c>S3</c>, env <c>S3__*</c>).</summary>
public sealed class S3Options
{
    public const string SectionName = "S3";

    /// <summary>
    /// The domain under which buckets are addressed as hosts (<c>S3__BaseDomain=s3.example.com</c>
    /// serves <c>photos.s3.example.com</c>); empty: path-style only.
    /// </summary>
    [RegularExpression(@"^$|^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$", ErrorMessage = "S3:BaseDomain must be a lower-case host name (e.g. s3.example.com) or empty.")]
    public string BaseDomain { get; set; } = "";

    /// <summary>The region the store reports (GetBucketLocation); requests are accepted signed for any region.</summary>
    [Required(AllowEmptyStrings = false, ErrorMessage = "S3:Region must not be empty.")]
    public string Region { get; set; } = "us-east-1";

    /// <summary>A multipart upload neither completed nor aborted for this long is aborted by the maintenance sweep (<c>S3__AbandonedUploadAge</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00", ErrorMessage = "S3:AbandonedUploadAge must be between 1 second and 365 days.")]
    public TimeSpan AbandonedUploadAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How long a completed upload's id still answers a repeated Complete (<c>S3__CompletedUploadRetention</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00", ErrorMessage = "S3:CompletedUploadRetention must be between 1 second and 7 days.")]
    public TimeSpan CompletedUploadRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a blob an object no longer points at (overwritten, deleted, a replaced part) is
    /// kept before the sweep deletes it, so reads that began before the switch finish
    /// (<c>S3__ReleasedBlobGrace</c>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ErrorMessage = "S3:ReleasedBlobGrace must be between 0 and 1 day.")]
    public TimeSpan ReleasedBlobGrace { get; set; } = TimeSpan.FromMinutes(10);
}
