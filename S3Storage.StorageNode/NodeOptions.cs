using System.ComponentModel.DataAnnotations;

namespace S3Storage.StorageNode;

/// <summary>The node's own settings (section <c>Node</c>, env <c>Node__*</c>).</summary>
public sealed class NodeOptions
{
    public const string SectionName = "Node";

    /// <summary>Resource name, e.g. <c>storage-3</c> (<c>Node__Name</c>).</summary>
    [Required(ErrorMessage = "Node:Name (env Node__Name) is required, e.g. storage-3.")]
    [RegularExpression("^[A-Za-z][A-Za-z0-9-]{0,63}$", ErrorMessage = "Node:Name must start with a letter and hold only letters, digits and '-', at most 64 characters.")]
    public string Name { get; set; } = "";

    /// <summary>Where chunks, the server id and temporary files live (<c>Node__DataDir</c>).</summary>
    [Required(ErrorMessage = "Node:DataDir (env Node__DataDir) is required: the directory that holds this node's chunks.")]
    public string DataDir { get; set; } = "";

    /// <summary>The URL the gateway dials (<c>Node__AdvertisedAddress</c>), e.g. <c>http://storage-3</c> or <c>http://127.0.0.1:5103</c>.</summary>
    [Required(ErrorMessage = "Node:AdvertisedAddress (env Node__AdvertisedAddress) is required: the http:// or https:// URL the gateway dials.")]
    [RegularExpression("^https?://[^/]+/?$", ErrorMessage = "Node:AdvertisedAddress must be an http:// or https:// URL with no path, e.g. http://storage-3.")]
    public string AdvertisedAddress { get; set; } = "";

    /// <summary>How often the node reports its space and chunk count (<c>Node__HeartbeatInterval</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Node:HeartbeatInterval must be between 100 ms and 1 hour.")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time between scrub passes; zero (the default) turns the scrub off.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00", ErrorMessage = "Node:ScrubInterval must be between 0 (off) and 30 days.")]
    public TimeSpan ScrubInterval { get; set; } = TimeSpan.Zero;

    /// <summary>Bytes per second the scrub may read, so it never starves client traffic; 0 is unlimited.</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Node:ScrubBytesPerSecond must not be negative.")]
    public long ScrubBytesPerSecond { get; set; } = 50L * 1024 * 1024;

    /// <summary>Temporary files older than this are left over from a crash and are removed at start.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00", ErrorMessage = "Node:TempFileMaxAge must be between 0 and 7 days.")]
    public TimeSpan TempFileMaxAge { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Threads that run fsyncs, so that the fsyncs of concurrent puts reach the disk together
    /// (one journal commit) instead of queueing for thread-pool threads.
    /// </summary>
    [Range(1, 256, ErrorMessage = "Node:SyncThreads must be between 1 and 256.")]
    public int SyncThreads { get; set; } = 16;

    /// <summary>
    /// Write and read chunk files of 1 MiB and more past the page cache (<c>O_DIRECT</c>) when
    /// the data volume accepts it (checked at start). False keeps every chunk file in the page cache.
    /// </summary>
    public bool DirectIo { get; set; } = true;

    /// <summary>How long shutdown waits for chunk streams in flight before it gives up on them.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00", ErrorMessage = "Node:ShutdownTimeout must be between 0 and 1 hour.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
