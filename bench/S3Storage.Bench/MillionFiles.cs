using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using S3Storage.DevCluster;

namespace S3Storage.Bench;

/// <summary>
/// Listing cost with a million files in the store: the first page, a page 800,000 files deep
/// by cursor and by page number (offset), and a status-filtered first page, one client at a
/// time. The rows go straight into the database (uploading a million files would take hours
/// here); they stay, so this runs after every other scenario of its cluster.
/// </summary>
public static class MillionFiles
{
    private const int Files = 1_000_000;
    private const int Requests = 200;

    public static async Task<List<ScenarioResult>> RunAsync(StoreTarget store, LocalCluster cluster, ProcessTreeCpu storeCpu, string label, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await using (var connection = new NpgsqlConnection(cluster.MetadataConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var insert = new NpgsqlCommand(
                $"""
                INSERT INTO files (file_id, filename, content_type, total_size, chunk_size, num_chunks, upload_status, checksum, created_at, completed_at)
                SELECT gen_random_uuid(), 'million-' || i, 'application/octet-stream', 4096, 683, 6, 'completed', repeat('ab', 32),
                       now() - interval '400 days' + i * interval '10 ms', now()
                FROM generate_series(1, {Files}) AS i;
                ANALYZE files;
                """,
                connection) { CommandTimeout = 600 };
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        Console.WriteLine($"{label}: {Files:N0} file rows inserted in {clock.Elapsed.TotalSeconds:F0} s");
        using var deep = JsonDocument.Parse(await store.Http.GetStringAsync("/files?page=40000&per_page=20", cancellationToken));
        var cursor = deep.RootElement.GetProperty("next_cursor").GetString()
            ?? throw new InvalidOperationException("Page 40,000 of a million files has no next page.");

        return
        [
            await MeasureAsync($"list page 1, 1M files, 1 client {label}", "/files?per_page=20"),
            await MeasureAsync($"list by cursor 800k deep, 1M files {label}", $"/files?per_page=20&cursor={cursor}"),
            await MeasureAsync($"list page 40000 (offset), 1M files {label}", "/files?page=40000&per_page=20"),
            await MeasureAsync($"list completed page 1, 1M files {label}", "/files?per_page=20&status=completed"),
        ];

        async Task<ScenarioResult> MeasureAsync(string scenario, string path)
        {
            await store.Http.GetStringAsync(path, cancellationToken);
            var cpuBefore = storeCpu.Seconds();
            var (_, latencies) = await Concurrent.RunAsync(1, Requests, _ => store.Http.GetStringAsync(path, cancellationToken), cancellationToken);
            var result = new ScenarioResult(scenario, "ms", Concurrent.Percentile(latencies, 99), double.NaN, "lower")
            {
                StoreP50 = Concurrent.Percentile(latencies, 50),
                StoreCpu = (storeCpu.Seconds() - cpuBefore) * 1000 / Requests,
                CpuUnit = "CPU-ms/op",
            };
            Console.WriteLine(ResultWriter.Row(result));
            return result;
        }
    }
}
