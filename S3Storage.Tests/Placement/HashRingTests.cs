using System.IO.Hashing;
using System.Text;
using S3Storage.Contracts.Placement;

namespace S3Storage.Tests.Placement;

public sealed class HashRingTests(ITestOutputHelper output)
{
    private const int SampledKeys = 100_000;

    private static Guid[] Servers(int count, int seed = 42)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var bytes = new byte[16];
            random.NextBytes(bytes);
            return new Guid(bytes);
        }).ToArray();
    }

    private static IEnumerable<string> SampleChunkKeys(int count, int seed = 7)
    {
        var random = new Random(seed);
        var bytes = new byte[16];
        for (var i = 0; i < count; i++)
        {
            random.NextBytes(bytes);
            yield return HashRing.ChunkKey(new Guid(bytes), i % ChunkPlanner.ChunksPerFile);
        }
    }

    [Fact]
    public void Hash_is_XxHash32_with_seed_0_of_the_UTF8_key()
    {
        // Published XXH32 test vectors (seed 0).
        Assert.Equal(0x02CC5D05u, HashRing.Hash(""));
        Assert.Equal(0x32D153FFu, HashRing.Hash("abc"));

        var key = HashRing.ChunkKey(Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e"), 3);
        Assert.Equal("0f8fad5b-d9cb-469f-a165-70867728950e#3", key);
        Assert.Equal(XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(key)), HashRing.Hash(key));

        var longKey = new string('é', 400);
        Assert.Equal(XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(longKey)), HashRing.Hash(longKey));
    }

    [Fact]
    public void A_server_places_150_points_at_the_hash_of_its_id_and_index()
    {
        var server = Guid.Parse("6b29fc40-ca47-1067-b31d-00dd010662da");
        var points = HashRing.PointsFor(server).ToList();

        Assert.Equal(HashRing.DefaultVirtualNodes, points.Count);
        Assert.Equal(Enumerable.Range(0, 150), points.Select(p => p.VirtualNodeIndex));
        Assert.All(points, p => Assert.Equal(HashRing.Hash($"6b29fc40-ca47-1067-b31d-00dd010662da#{p.VirtualNodeIndex}"), p.Hash));
        Assert.Equal(150, HashRing.Build([server]).PointCount);
    }

    [Fact]
    public void The_same_servers_give_the_same_placement_whatever_their_order()
    {
        var servers = Servers(6);
        var ring = HashRing.Build(servers);
        var shuffled = HashRing.Build(servers.Reverse());
        var fromStoredPoints = HashRing.FromPoints(servers.SelectMany(s => HashRing.PointsFor(s)).Reverse());

        foreach (var key in SampleChunkKeys(10_000))
        {
            var expected = ring.Locate(key, 2);
            Assert.Equal(expected, shuffled.Locate(key, 2));
            Assert.Equal(expected, fromStoredPoints.Locate(key, 2));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(6)]
    public void Every_lookup_returns_R_distinct_servers(int replicas)
    {
        var ring = HashRing.Build(Servers(6));

        foreach (var key in SampleChunkKeys(20_000))
        {
            var placement = ring.Locate(key, replicas);
            Assert.Equal(replicas, placement.Length);
            Assert.Equal(replicas, placement.Distinct().Count());
        }
    }

    [Fact]
    public void Asking_for_more_replicas_than_servers_returns_every_server_once()
    {
        var servers = Servers(3);
        var placement = HashRing.Build(servers).Locate("some-file#0", 5);

        Assert.Equal(servers.Order(), placement.Order());
    }

    [Fact]
    public void Load_is_spread_evenly_over_six_servers_with_150_points_each()
    {
        // With V points per server a server's share of the ring is a sum of V random gaps, so
        // it varies by about 1/sqrt(V) = 8% (one sigma) for V = 150. Over 20 server sets the six
        // shares stay within ±3 sigma (±25%) of the mean: max/min <= 1.25 / 0.75 = 1.67, so the
        // bound is 1.7. 100k sampled keys add under 1% of sampling noise. The bound is checked on
        // 20 random server sets, not one lucky draw.
        const double MaxOverMin = 1.7;
        var keys = SampleChunkKeys(SampledKeys).ToArray();
        var worst = 0.0;
        var ratios = new List<double>();

        for (var seed = 1; seed <= 20; seed++)
        {
            var ring = HashRing.Build(Servers(6, seed));
            var counts = keys.GroupBy(k => ring.Locate(k, 1)[0]).Select(g => g.Count()).ToArray();
            Assert.Equal(6, counts.Length);
            var ratio = (double)counts.Max() / counts.Min();
            worst = Math.Max(worst, ratio);
            ratios.Add(ratio);
            if (seed == 1)
            {
                output.WriteLine($"6 servers x 150 points, {SampledKeys} chunk keys: per server {string.Join(", ", counts.Order())}; max/min = {ratio:F3}");
            }
        }

        output.WriteLine($"max/min over 20 server sets: worst {worst:F3}, median {ratios.Order().ElementAt(ratios.Count / 2):F3} (bound {MaxOverMin})");
        Assert.True(worst <= MaxOverMin, $"max/min {worst:F3} over the bound {MaxOverMin}");
    }

    [Fact]
    public void Adding_a_seventh_server_moves_about_one_seventh_of_the_keys_and_only_onto_it()
    {
        // Expected share 1/7 = 14.3%; the new server's own share varies by about 8% relative
        // (1/sqrt(150)), i.e. ±1.2 points; the tolerance is ±3 points (2.5σ).
        const double Tolerance = 0.03;
        var servers = Servers(7);
        var before = HashRing.Build(servers[..6]);
        var after = HashRing.Build(servers);
        var newcomer = servers[6];

        var moved = 0;
        var replicaSetsChanged = 0;
        foreach (var key in SampleChunkKeys(SampledKeys))
        {
            var oldOwner = before.Locate(key, 1)[0];
            var newOwner = after.Locate(key, 1)[0];
            if (oldOwner != newOwner)
            {
                moved++;
                Assert.Equal(newcomer, newOwner);
            }

            // With two replicas, a set changes only by taking the newcomer in.
            var oldSet = before.Locate(key, 2);
            var newSet = after.Locate(key, 2);
            if (!oldSet.SequenceEqual(newSet))
            {
                replicaSetsChanged++;
                Assert.Contains(newcomer, newSet);
                Assert.Single(newSet.Except(oldSet));
            }
        }

        var fraction = (double)moved / SampledKeys;
        output.WriteLine($"7th server added: {moved} of {SampledKeys} keys moved ({fraction:P2}; expected {1.0 / 7:P2} ± {Tolerance:P0}); R=2 sets changed: {replicaSetsChanged}");
        Assert.InRange(fraction, 1.0 / 7 - Tolerance, 1.0 / 7 + Tolerance);
    }

    [Fact]
    public void Removing_a_server_moves_only_the_keys_it_held()
    {
        var servers = Servers(6);
        var before = HashRing.Build(servers);
        var removed = servers[2];
        var after = HashRing.Build(servers.Where(s => s != removed));

        var moved = 0;
        foreach (var key in SampleChunkKeys(SampledKeys))
        {
            var oldOwner = before.Locate(key, 1)[0];
            var newOwner = after.Locate(key, 1)[0];
            if (oldOwner == removed)
            {
                moved++;
                Assert.NotEqual(removed, newOwner);
            }
            else
            {
                Assert.Equal(oldOwner, newOwner);
            }

            var oldSet = before.Locate(key, 2);
            if (!oldSet.Contains(removed))
            {
                Assert.Equal(oldSet, after.Locate(key, 2));
            }
        }

        output.WriteLine($"1 of 6 servers removed: {moved} of {SampledKeys} keys moved ({(double)moved / SampledKeys:P2}; expected about {1.0 / 6:P2})");
        Assert.InRange((double)moved / SampledKeys, 1.0 / 6 - 0.03, 1.0 / 6 + 0.03);
    }

    [Fact]
    public void A_position_past_the_last_point_wraps_to_the_first()
    {
        var servers = Servers(3);
        var points = servers.SelectMany(s => HashRing.PointsFor(s)).OrderBy(p => p.Hash).ToList();
        var ring = HashRing.FromPoints(points);
        var first = points[0];
        var last = points[^1];
        Assert.True(last.Hash < uint.MaxValue, "the sample ring must leave room past its last point");

        Assert.Equal(first.ServerId, ring.Locate(last.Hash + 1, 1)[0]);
        Assert.Equal(first.ServerId, ring.Locate(uint.MaxValue, 1)[0]);
        Assert.Equal(first.ServerId, ring.Locate(0u, 1)[0]);
        // A position exactly on a point belongs to that point; one past it to the next.
        Assert.Equal(last.ServerId, ring.Locate(last.Hash, 1)[0]);
        Assert.Equal(points[1].ServerId, ring.Locate(first.Hash + 1, 1)[0]);

        // The replica walk wraps too: from the last point, the second replica is the first
        // distinct server after the wrap.
        var afterWrap = points.First(p => p.ServerId != last.ServerId).ServerId;
        Assert.Equal([last.ServerId, afterWrap], ring.Locate(last.Hash, 2));
    }

    [Fact]
    public void An_empty_ring_places_nothing_and_a_one_server_ring_places_everything_on_it()
    {
        Assert.Empty(HashRing.Empty.Locate("any#0", 2));
        Assert.Empty(HashRing.Build([]).Locate("any#0", 1));
        Assert.Equal(0, HashRing.Empty.ServerCount);

        var only = Servers(1)[0];
        var ring = HashRing.Build([only]);
        foreach (var key in SampleChunkKeys(1_000))
        {
            Assert.Equal([only], ring.Locate(key, 1));
            Assert.Equal([only], ring.Locate(key, 3));
        }
    }

    [Fact]
    public void Servers_the_caller_rejects_are_skipped_for_the_next_distinct_one()
    {
        var servers = Servers(6);
        var ring = HashRing.Build(servers);
        var down = servers[0];

        foreach (var key in SampleChunkKeys(5_000))
        {
            var all = ring.Locate(key, 6);
            var placement = ring.Locate(key, 2, server => server != down);
            Assert.Equal(all.Where(s => s != down).Take(2), placement);
        }
    }
}
