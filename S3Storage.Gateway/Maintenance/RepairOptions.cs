using System.ComponentModel.DataAnnotations;

namespace S3Storage.Gateway.Maintenance;

/// <summary>Repair and garbage collection (section <c>Repair</c>, env <c>Repair__*</c>).</summary>
public sealed class RepairOptions
{
    public const string SectionName = "Repair";

    /// <summary>False switches the background sweep off; POST /admin/repair still runs one pass.</summary>
    public bool Enabled { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00", ErrorMessage = "Repair:Interval must be between 100 ms and 1 day.")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The longest a cluster where nothing changed goes without a pass. A pass reads the rows
    /// of every chunk and every node's listing, so its cost grows with the store (3,000 files:
    /// 2.6 CPU-seconds); it runs at the next tick of <see cref="Interval"/> when a node joins,
    /// dies, comes back, drains or moves, when a read finds a copy corrupt or missing, and
    /// while the last pass left work. This quiet pass is what finds a copy lost on a node that
    /// stayed up, and collects orphans, which wait <see cref="OrphanGracePeriod"/> anyway.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "7.00:00:00", ErrorMessage = "Repair:QuietInterval must be between 100 ms and 7 days.")]
    public TimeSpan QuietInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Copy rate limit, so repair never starves client traffic; 0 is unlimited.</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Repair:BytesPerSecond must not be negative.")]
    public long BytesPerSecond { get; set; } = 100L * 1024 * 1024;

    /// <summary>
    /// Moves copies to the nodes the ring names for them, so a node that joins takes its share
    /// of the existing chunks (about R/N of the chunk sets change) and not only of new ones.
    /// </summary>
    public bool Rebalance { get; set; } = true;

    /// <summary>False leaves chunk files no row refers to on the nodes, e.g. while investigating how they came about.</summary>
    public bool CollectOrphans { get; set; } = true;

    /// <summary>Chunks read from the database at a time: a pass holds at most this many rows, whatever the store's size.</summary>
    [Range(1, 100_000, ErrorMessage = "Repair:PageSize must be between 1 and 100000.")]
    public int PageSize { get; set; } = 1000;

    /// <summary>A chunk file no row refers to is deleted only once it is this old: an upload may still be recording it.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00", ErrorMessage = "Repair:OrphanGracePeriod must be between 0 and 30 days.")]
    public TimeSpan OrphanGracePeriod { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>What the last repair pass found and did (GET /admin/repair).</summary>
public sealed record RepairReport(
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    bool Running,
    int ChunksChecked,
    int UnderReplicated,
    int Repaired,
    int Unrecoverable,
    int Rebalanced,
    int Failed,
    long BytesCopied,
    int MissingFound,
    int OrphansCollected,
    int Pages,
    IReadOnlyList<string> DrainsCompleted,
    string? Error);
