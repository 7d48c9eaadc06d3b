using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace S3Storage.Contracts.Placement;

/// <summary>One virtual node: a server owns the ring position <see cref="Hash"/>.</summary>
public readonly record struct RingPoint(Guid ServerId, int VirtualNodeIndex, uint Hash);

/// <summary>
/// An immutable consistent-hash ring over 2^32 positions. Build one per membership change and
/// swap the reference: lookups never lock and a snapshot never changes under a reader.
/// </summary>
public sealed class HashRing
{
    public const int DefaultVirtualNodes = 150;

    private readonly uint[] _positions;
    private readonly int[] _owners;
    private readonly Guid[] _servers;

    public static HashRing Empty { get; } = new([], [], []);

    private HashRing(uint[] positions, int[] owners, Guid[] servers)
    {
        _positions = positions;
        _owners = owners;
        _servers = servers;
    }

    /// <summary>Distinct servers on the ring, in ascending id order.</summary>
    public IReadOnlyList<Guid> Servers => _servers;

    public int ServerCount => _servers.Length;

    public int PointCount => _positions.Length;

    /// <summary>The points a server places on the ring: <c>XxHash32("{serverId}#{i}")</c>, i = 0..virtualNodes-1.</summary>
    public static IEnumerable<RingPoint> PointsFor(Guid serverId, int virtualNodes = DefaultVirtualNodes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(virtualNodes);
        for (var i = 0; i < virtualNodes; i++)
        {
            yield return new RingPoint(serverId, i, Hash($"{serverId:D}#{i}"));
        }
    }

    public static HashRing Build(IEnumerable<Guid> serverIds, int virtualNodes = DefaultVirtualNodes) =>
        FromPoints(serverIds.Distinct().SelectMany(id => PointsFor(id, virtualNodes)));

    /// <summary>Builds a ring from stored points (the <c>hash_ring_nodes</c> rows of the live servers).</summary>
    public static HashRing FromPoints(IEnumerable<RingPoint> points)
    {
        // Ties between servers on one position are broken by server id, so every process that
        // loads the same rows walks the ring in the same order.
        var sorted = points
            .DistinctBy(p => (p.ServerId, p.VirtualNodeIndex))
            .OrderBy(p => p.Hash)
            .ThenBy(p => p.ServerId)
            .ToArray();
        if (sorted.Length == 0)
        {
            return Empty;
        }

        var servers = sorted.Select(p => p.ServerId).Distinct().Order().ToArray();
        var serverIndex = new Dictionary<Guid, int>(servers.Length);
        for (var i = 0; i < servers.Length; i++)
        {
            serverIndex[servers[i]] = i;
        }

        var positions = new uint[sorted.Length];
        var owners = new int[sorted.Length];
        for (var i = 0; i < sorted.Length; i++)
        {
            positions[i] = sorted[i].Hash;
            owners[i] = serverIndex[sorted[i].ServerId];
        }

        return new HashRing(positions, owners, servers);
    }

    /// <summary>
    /// Each server's fraction of the ring: a point owns the positions after the previous point
    /// up to itself, which is where the keys it receives as first replica hash to.
    /// </summary>
    public IReadOnlyDictionary<Guid, double> Shares()
    {
        var owned = new double[_servers.Length];
        for (var i = 0; i < _positions.Length; i++)
        {
            var previous = i == 0 ? (long)_positions[^1] - (1L << 32) : _positions[i - 1];
            owned[_owners[i]] += _positions[i] - previous;
        }

        var shares = new Dictionary<Guid, double>(_servers.Length);
        for (var i = 0; i < _servers.Length; i++)
        {
            shares[_servers[i]] = owned[i] / (1L << 32);
        }

        return shares;
    }

    /// <summary>The ring key of a chunk: <c>"{fileId}#{chunkNumber}"</c>.</summary>
    public static string ChunkKey(Guid fileId, int chunkNumber) => $"{fileId:D}#{chunkNumber}";

    /// <summary>XxHash32 (seed 0) of the UTF-8 bytes of <paramref name="key"/>.</summary>
    public static uint Hash(string key)
    {
        var byteCount = Encoding.UTF8.GetByteCount(key);
        byte[]? rented = null;
        Span<byte> buffer = byteCount <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(byteCount));
        try
        {
            var written = Encoding.UTF8.GetBytes(key, buffer);
            return XxHash32.HashToUInt32(buffer[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// The first <paramref name="replicas"/> distinct servers clockwise from the key's position
    /// that <paramref name="accept"/> allows (all, when null). Returns fewer when the ring has
    /// fewer acceptable servers; callers decide whether that is enough to write.
    /// </summary>
    public Guid[] Locate(string key, int replicas, Func<Guid, bool>? accept = null) =>
        Locate(Hash(key), replicas, accept);

    public Guid[] Locate(uint position, int replicas, Func<Guid, bool>? accept = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(replicas);
        if (_positions.Length == 0)
        {
            return [];
        }

        var wanted = Math.Min(replicas, _servers.Length);
        var result = new List<Guid>(wanted);
        Span<bool> seen = _servers.Length <= 256 ? stackalloc bool[_servers.Length] : new bool[_servers.Length];
        var distinctSeen = 0;
        var start = FirstAtOrAfter(position);

        // Walk at most once around the ring; stop as soon as enough servers are found or every
        // server has been considered.
        for (var step = 0; step < _positions.Length && result.Count < wanted && distinctSeen < _servers.Length; step++)
        {
            var owner = _owners[(start + step) % _positions.Length];
            if (seen[owner])
            {
                continue;
            }

            seen[owner] = true;
            distinctSeen++;
            var server = _servers[owner];
            if (accept is null || accept(server))
            {
                result.Add(server);
            }
        }

        return [.. result];
    }

    /// <summary>Index of the first point at or after <paramref name="position"/>, wrapping to 0 past the last.</summary>
    private int FirstAtOrAfter(uint position)
    {
        var index = Array.BinarySearch(_positions, position);
        if (index < 0)
        {
            index = ~index;
        }
        else
        {
            // Equal hashes may repeat; the walk starts at the first of them.
            while (index > 0 && _positions[index - 1] == position)
            {
                index--;
            }
        }

        return index == _positions.Length ? 0 : index;
    }
}
