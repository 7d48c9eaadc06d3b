using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;
using S3Storage.Gateway.Cluster;

namespace S3Storage.Gateway.Uploads;

/// <summary>
/// Where the copies of one chunk of an upload go, and what the metadata records of them. The
/// only owner of that decision on the upload path: ring order from the chunk's key, the first
/// <see cref="Replicas"/> planned, the next nodes on the ring as fall-backs when one will not
/// open, further ones to copy to when a node dropped out mid-stream.
/// </summary>
public sealed class ChunkPlacement
{
    private readonly IReadOnlyList<NodeInfo> _ringOrder;
    private readonly HashSet<Guid> _streamedTo = [];
    private readonly HashSet<Guid> _copyTried = [];
    private int _nextToOpen;

    private ChunkPlacement(StoredChunk chunk, IReadOnlyList<NodeInfo> ringOrder, int replicas)
    {
        Chunk = chunk;
        _ringOrder = ringOrder;
        Replicas = replicas;
    }

    public StoredChunk Chunk { get; }

    /// <summary>Copies the chunk must have before its file can complete.</summary>
    public int Replicas { get; }

    /// <summary>
    /// Orders the nodes of <paramref name="snapshot"/>'s ring for the chunk and records its
    /// planned copies on <paramref name="chunk"/>: planned copies are recorded before any byte
    /// moves, so a crashed upload can be cleaned.
    /// </summary>
    public static ChunkPlacement Plan(StoredChunk chunk, ClusterSnapshot snapshot, int replicas)
    {
        var ringOrder = snapshot.Ring.Locate(HashRing.ChunkKey(chunk.FileId, chunk.ChunkNumber), snapshot.Ring.ServerCount)
            .Select(id => snapshot.Node(id)!)
            .ToList();
        chunk.Replicas.AddRange(ringOrder.Take(replicas).Select(node => new ChunkReplica { ChunkId = chunk.ChunkId, ServerId = node.ServerId }));
        return new ChunkPlacement(chunk, ringOrder, replicas);
    }

    /// <summary>The next <paramref name="count"/> nodes to open a stream to, in ring order; fewer when the ring runs out.</summary>
    public IReadOnlyList<NodeInfo> NextToOpen(int count)
    {
        var batch = _ringOrder.Skip(_nextToOpen).Take(count).ToList();
        _nextToOpen += batch.Count;
        return batch;
    }

    /// <summary>How many nodes <see cref="NextToOpen"/> has not offered yet.</summary>
    public int UnopenedCount => _ringOrder.Count - _nextToOpen;

    /// <summary>
    /// The nodes the bytes were streamed to. A copy on a node that was not planned is recorded
    /// where it really is; true when the metadata changed and must be saved before the copy is
    /// acknowledged.
    /// </summary>
    public bool StreamedTo(IEnumerable<NodeInfo> targets)
    {
        var added = false;
        foreach (var target in targets)
        {
            _streamedTo.Add(target.ServerId);
            added |= Record(target);
        }

        return added;
    }

    /// <summary>
    /// The next node in ring order to copy the chunk to (one it was not streamed to, nor copied
    /// to before), recorded as a copy before the copy starts; null when none is left.
    /// </summary>
    public NodeInfo? NextToCopyTo()
    {
        var target = _ringOrder.FirstOrDefault(n => !_streamedTo.Contains(n.ServerId) && !_copyTried.Contains(n.ServerId));
        if (target is not null)
        {
            _copyTried.Add(target.ServerId);
            Record(target);
        }

        return target;
    }

    /// <summary>
    /// Marks the copies the nodes acknowledged as stored and returns the recorded ones that were
    /// not (a planned node that failed holds nothing of this chunk) for the caller to delete.
    /// </summary>
    public IReadOnlyList<ChunkReplica> Settle(IReadOnlyCollection<NodeInfo> holders, string sha256, DateTimeOffset now)
    {
        var held = holders.Select(h => h.ServerId).ToHashSet();
        Chunk.ChunkHash = sha256;
        Chunk.UploadStatus = UploadStatus.Completed;
        Chunk.UploadedAt = now;
        var unheld = Chunk.Replicas.Where(r => !held.Contains(r.ServerId)).ToList();
        foreach (var replica in Chunk.Replicas)
        {
            if (held.Contains(replica.ServerId))
            {
                replica.Status = ReplicaStatus.Stored;
                replica.VerifiedAt = now;
            }
        }

        unheld.ForEach(r => Chunk.Replicas.Remove(r));
        return unheld;
    }

    private bool Record(NodeInfo node)
    {
        if (Chunk.Replicas.Any(r => r.ServerId == node.ServerId))
        {
            return false;
        }

        Chunk.Replicas.Add(new ChunkReplica { ChunkId = Chunk.ChunkId, ServerId = node.ServerId });
        return true;
    }
}
