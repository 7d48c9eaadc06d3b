namespace S3Storage.Contracts.Metadata.Entities;

/// <summary>A storage node (table <c>storage_servers</c>), kept current by its own registration and heartbeats.</summary>
public sealed class StorageServer
{
    /// <summary>Stable across restarts: the node keeps it in its data directory.</summary>
    public Guid ServerId { get; set; }

    /// <summary>Resource name, e.g. <c>storage-3</c>.</summary>
    public required string Name { get; set; }

    /// <summary>The URL the gateway dials, e.g. <c>http://storage-3</c> or <c>http://127.0.0.1:5103</c>.</summary>
    public required string GrpcAddress { get; set; }

    public ServerStatus Status { get; set; } = ServerStatus.Active;

    public long AvailableSpace { get; set; }

    public long UsedSpace { get; set; }

    public long TotalChunks { get; set; }

    public DateTimeOffset? LastHeartbeat { get; set; }

    /// <summary>Set by the database.</summary>
    public DateTimeOffset RegisteredAt { get; set; }

    /// <summary>Free-form facts about the node as a JSON object (jsonb): version, data dir, host.</summary>
    public string? Metadata { get; set; }

    public List<HashRingNode> RingNodes { get; set; } = [];
}
