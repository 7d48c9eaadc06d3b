namespace S3Storage.Contracts.Metadata.Entities;

/// <summary>One virtual node of a server on the ring (table <c>hash_ring_nodes</c>).</summary>
public sealed class HashRingNode
{
    public Guid ServerId { get; set; }

    public int VirtualNodeIndex { get; set; }

    /// <summary>
    /// The unsigned 32-bit ring position, held in a bigint: PostgreSQL has no unsigned type and
    /// Npgsql maps <see cref="uint"/> to <c>xid</c>.
    /// </summary>
    public long HashValue { get; set; }

    public StorageServer? Server { get; set; }
}
