using S3Storage.Contracts.Placement;

namespace S3Storage.Tests.Placement;

public sealed class ChunkPlannerTests
{
    private const long TenGiB = 10L * 1024 * 1024 * 1024;

    public static TheoryData<long> Sizes => [0, 1, 5, 6, 7, 13, 25, 26, 10 * 1024 * 1024 + 3, TenGiB];

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Chunks_cover_the_file_exactly_once(long size)
    {
        var plan = ChunkPlanner.Plan(size);

        Assert.Equal(ChunkPlanner.ChunksPerFile, plan.Chunks.Count);
        Assert.Equal(size, plan.TotalSize);
        var expectedOffset = 0L;
        for (var number = 0; number < plan.Chunks.Count; number++)
        {
            var chunk = plan.Chunks[number];
            Assert.Equal(number, chunk.Number);
            Assert.Equal(expectedOffset, chunk.Offset); // no gap, no overlap
            Assert.True(chunk.Length >= 0);
            expectedOffset = chunk.End;
        }

        Assert.Equal(size, expectedOffset);
        Assert.Equal(size, plan.Chunks.Sum(c => c.Length));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void All_chunks_are_equal_but_the_last(long size)
    {
        var plan = ChunkPlanner.Plan(size);

        Assert.All(plan.Chunks.Take(ChunkPlanner.ChunksPerFile - 1), c => Assert.Equal(plan.ChunkSize, c.Length));
        Assert.Equal(size - (5 * plan.ChunkSize), plan.Chunks[^1].Length);
    }

    [Fact]
    public void Boundaries_follow_the_design_formula_and_no_chunk_is_empty_from_six_bytes_up()
    {
        for (long size = 0; size <= 100_000; size++)
        {
            var plan = ChunkPlanner.Plan(size);
            if (size >= 6)
            {
                Assert.All(plan.Chunks, c => Assert.True(c.Length > 0, $"size {size}: chunk {c.Number} is empty"));
            }

            if (size >= 26)
            {
                // DESIGN.md: c = ceil(S / 6), chunk k = [k*c, min((k+1)*c, S)).
                var c = (size + 5) / 6;
                Assert.Equal(c, plan.ChunkSize);
                Assert.All(plan.Chunks, chunk => Assert.Equal(Math.Min((chunk.Number + 1) * c, size), chunk.End));
            }
        }
    }

    [Fact]
    public void Small_and_limit_sizes_are_cut_as_expected()
    {
        Assert.Equal([0L, 0, 0, 0, 0, 0], ChunkPlanner.Plan(0).Chunks.Select(c => c.Length));
        Assert.Equal([0L, 0, 0, 0, 0, 1], ChunkPlanner.Plan(1).Chunks.Select(c => c.Length));
        Assert.Equal([0L, 0, 0, 0, 0, 5], ChunkPlanner.Plan(5).Chunks.Select(c => c.Length));
        Assert.Equal([1L, 1, 1, 1, 1, 1], ChunkPlanner.Plan(6).Chunks.Select(c => c.Length));
        Assert.Equal([1L, 1, 1, 1, 1, 2], ChunkPlanner.Plan(7).Chunks.Select(c => c.Length));

        var tenGiB = ChunkPlanner.Plan(TenGiB);
        Assert.Equal(1_789_569_707L, tenGiB.ChunkSize); // ceil(10737418240 / 6)
        Assert.Equal(TenGiB - (5 * 1_789_569_707L), tenGiB.Chunks[^1].Length);
    }

    [Fact]
    public void A_file_over_10_GiB_is_rejected_with_its_size_and_the_limit()
    {
        var error = Assert.Throws<FileTooLargeException>(() => ChunkPlanner.Plan(TenGiB + 1));

        Assert.Equal(TenGiB + 1, error.Size);
        Assert.Equal(TenGiB, error.MaxFileSize);
        Assert.Contains("10737418241", error.Message);
        Assert.Throws<FileTooLargeException>(() => ChunkPlanner.Plan(1001, maxFileSize: 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkPlanner.Plan(-1));
    }

    [Fact]
    public void The_chunk_holding_an_offset_is_found_at_every_boundary()
    {
        var plan = ChunkPlanner.Plan(TenGiB);
        foreach (var chunk in plan.Chunks)
        {
            Assert.Equal(chunk.Number, plan.ChunkAt(chunk.Offset).Number);
            Assert.Equal(chunk.Number, plan.ChunkAt(chunk.End - 1).Number);
        }

        var tiny = ChunkPlanner.Plan(5);
        Assert.Equal(5, tiny.ChunkAt(0).Number);
        Assert.Equal(5, tiny.ChunkAt(4).Number);
        Assert.Throws<ArgumentOutOfRangeException>(() => plan.ChunkAt(TenGiB));
    }
}
