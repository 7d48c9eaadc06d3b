using System.IO.Hashing;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using S3Storage.Contracts.Placement;

BenchmarkSwitcher.FromAssembly(typeof(RingBenchmarks).Assembly).Run(args);

/// <summary>Placement: the lookup every chunk of every upload makes.</summary>
[MemoryDiagnoser]
public class RingBenchmarks
{
    private HashRing _ring = HashRing.Empty;
    private string[] _keys = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _ring = HashRing.Build(Enumerable.Range(0, 6).Select(_ => Guid.NewGuid()));
        _keys = Enumerable.Range(0, 4096).Select(i => HashRing.ChunkKey(Guid.NewGuid(), i % 6)).ToArray();
    }

    [Benchmark]
    public Guid[] LocateTwoReplicas() => _ring.Locate(_keys[_next++ & 4095], 2);

    [Benchmark]
    public HashRing BuildSixServerRing() => HashRing.Build(_ring.Servers);
}

[MemoryDiagnoser]
public class PlannerBenchmarks
{
    [Benchmark]
    public ChunkPlan PlanTenGiB() => ChunkPlanner.Plan(ChunkPlanner.DefaultMaxFileSize);
}

/// <summary>
/// The per-byte work of the chunk path: the gateway hashes every byte into the file's SHA-256
/// and the chunk's XxHash3 from the same buffer (the chunk's SHA-256, before, cost as much as
/// the file's); a node hashes it with SHA-256 and XxHash3 and CRCs it per 1 MiB block.
/// </summary>
public class HashingBenchmarks
{
    private readonly byte[] _buffer = new byte[1024 * 1024];

    [GlobalSetup]
    public void Setup() => Random.Shared.NextBytes(_buffer);

    [Benchmark(Baseline = true, Description = "gateway before: chunk + file SHA-256 of 1 MiB")]
    public void GatewayHashesBefore()
    {
        using var chunk = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var file = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        chunk.AppendData(_buffer);
        file.AppendData(_buffer);
    }

    [Benchmark(Description = "gateway: file SHA-256 + chunk XxHash3 of 1 MiB")]
    public ulong GatewayHashes()
    {
        using var file = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        file.AppendData(_buffer);
        return XxHash3.HashToUInt64(_buffer);
    }

    [Benchmark(Description = "node: SHA-256 + XxHash3 + CRC-32 of 1 MiB")]
    public uint NodeChecks()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(_buffer);
        return Crc32.HashToUInt32(_buffer) ^ (uint)XxHash3.HashToUInt64(_buffer);
    }
}
