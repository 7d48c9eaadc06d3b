using System.ComponentModel.DataAnnotations;

namespace S3Storage.Gateway;

/// <summary>Upload handling (section <c>Uploads</c>, env <c>Uploads__*</c>).</summary>
public sealed class UploadOptions
{
    public const string SectionName = "Uploads";

    /// <summary>An upload session not finished within this time is expired and cleaned (<c>Uploads__SessionTimeout</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00", ErrorMessage = "Uploads:SessionTimeout must be between 1 second and 7 days.")]
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often expired sessions are looked for (<c>Uploads__CleanupInterval</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00", ErrorMessage = "Uploads:CleanupInterval must be between 100 ms and 1 day.")]
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A node that accepts no bytes (or sends none, on download) for this long is dropped
    /// from the transfer and another replica takes over (<c>Uploads__StallTimeout</c>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Uploads:StallTimeout must be between 100 ms and 1 hour.")]
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a node may take to store a chunk after its last byte, an fsync of up to ~1.8 GB
    /// (<c>Uploads__StoreTimeout</c>); also how long a failed upload waits for nodes to finish
    /// before deleting what they stored.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Uploads:StoreTimeout must be between 100 ms and 1 hour.")]
    public TimeSpan StoreTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Attempts per node before the next node on the ring is tried (<c>Uploads__NodeAttempts</c>).</summary>
    [Range(1, 10, ErrorMessage = "Uploads:NodeAttempts must be between 1 and 10.")]
    public int NodeAttempts { get; set; } = 3;

    /// <summary>Back-off before the second attempt; doubled for each further one (<c>Uploads__RetryDelay</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00", ErrorMessage = "Uploads:RetryDelay must be between 0 and 1 minute.")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Files up to this size are read whole into memory and sent as one PutChunks call per node,
    /// carrying every chunk that node takes, instead of one streamed call per chunk copy; 0
    /// streams every file (<c>Uploads__BatchedFileSize</c>). Larger files always stream.
    /// </summary>
    [Range(0, 16 * 1024 * 1024, ErrorMessage = "Uploads:BatchedFileSize must be between 0 and 16777216 bytes.")]
    public int BatchedFileSize { get; set; } = 1024 * 1024;
}
