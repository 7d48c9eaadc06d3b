namespace S3Storage.Gateway.Maintenance;

/// <summary>What one repair pass has found and done so far; each worker adds to it.</summary>
public sealed class RepairPass(DateTimeOffset startedAt)
{
    public DateTimeOffset StartedAt { get; } = startedAt;

    public DateTimeOffset? FinishedAt { get; set; }

    public int ChunksChecked { get; set; }

    public int UnderReplicated { get; set; }

    public int Repaired { get; set; }

    public int Unrecoverable { get; set; }

    public int Rebalanced { get; set; }

    public int Failed { get; set; }

    public long BytesCopied { get; set; }

    public int MissingFound { get; set; }

    public int OrphansCollected { get; set; }

    public int Pages { get; set; }

    public List<string> DrainsCompleted { get; } = [];

    public string? Error { get; set; }

    /// <summary>A step could not finish (a node's listing broke, a move's copy failed): the next tick runs another pass.</summary>
    public bool Incomplete { get; set; }

    public RepairReport Report(bool running) => new(
        StartedAt, FinishedAt, running, ChunksChecked, UnderReplicated, Repaired, Unrecoverable, Rebalanced, Failed, BytesCopied, MissingFound, OrphansCollected, Pages, [.. DrainsCompleted], Error);
}

/// <summary>Spaces copies out so repair averages at most the configured bytes per second.</summary>
