using System.ComponentModel.DataAnnotations;
using S3Storage.Contracts.Placement;

namespace S3Storage.Contracts.Configuration;

/// <summary>Placement settings the gateway and the nodes share (section <c>Storage</c>, env <c>Storage__*</c>).</summary>
public sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary>Copies of every chunk, on distinct nodes (<c>Storage__ReplicationFactor</c>); at most the number of live nodes.</summary>
    [Range(1, 16, ErrorMessage = "Storage:ReplicationFactor must be between 1 and 16.")]
    public int ReplicationFactor { get; set; } = 2;

    /// <summary>Ring points per server (<c>Storage__VirtualNodes</c>).</summary>
    [Range(1, 10_000, ErrorMessage = "Storage:VirtualNodes must be between 1 and 10000.")]
    public int VirtualNodes { get; set; } = HashRing.DefaultVirtualNodes;

    /// <summary>Largest file accepted, in bytes (<c>Storage__MaxFileSize</c>); never above the 10 GiB the schema allows.</summary>
    [Range(0, ChunkPlanner.DefaultMaxFileSize, ErrorMessage = "Storage:MaxFileSize must be between 0 and 10737418240 (10 GiB).")]
    public long MaxFileSize { get; set; } = ChunkPlanner.DefaultMaxFileSize;

    /// <summary>
    /// A node whose last heartbeat is older than this is down for placement
    /// (<c>Storage__NodeTimeout</c>): three of the nodes' 10 s heartbeat intervals.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Storage:NodeTimeout must be between 100 ms and 1 hour.")]
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the gateway reloads the ring from PostgreSQL (<c>Storage__RingRefreshInterval</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Storage:RingRefreshInterval must be between 100 ms and 1 hour.")]
    public TimeSpan RingRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);
}
