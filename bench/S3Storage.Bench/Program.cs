using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using S3Storage.Bench;
using S3Storage.DevCluster;

// The benchmark: the store (dev cluster: PostgreSQL, six nodes that fsync, the gateway) against
// nginx with WebDAV PUT, on this machine, in the same run, each scenario alternating between the
// two for several rounds. Prints medians and the store/baseline ratio, and writes
// bench/results/latest.json and latest.svg.
const string Usage = "usage: dotnet run -c Release --project bench/S3Storage.Bench -- [--replication 2[,1]] [--rounds 3] [--large] [--million] [--quick] [--small-only] [--build-output] | --render";

var replications = new List<int> { 2 };
var rounds = 3;
var large = false;
var million = false;
var smallOnly = false;
var quick = false;
var buildOutput = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--replication" when i + 1 < args.Length:
            replications = args[++i].Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToList();
            break;
        case "--rounds" when i + 1 < args.Length:
            rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--large":
            large = true;
            break;
        case "--small-only":
            // Only the small-file and metadata scenarios: for comparing builds on them quickly.
            smallOnly = true;
            break;
        case "--million":
            million = true;
            break;
        case "--quick":
            quick = true;
            break;
        case "--build-output":
            // The services as built (JIT only), as the tests run them, instead of published.
            buildOutput = true;
            break;
        case "--render":
            // Redraws latest.svg from latest.json (e.g. after changing the chart).
            ResultWriter.Render(Path.Combine(S3Storage.DevCluster.Processes.RepositoryLayout.Root, "bench", "results"));
            return 0;
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}

using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stopping.Cancel();
};
var cancellationToken = stopping.Token;

var work = Path.Combine(Path.GetTempPath(), $"s3storage-bench-{Environment.ProcessId}");
Directory.CreateDirectory(work);
var results = new List<ScenarioResult>();
var machine = new MachineInfo(Environment.ProcessorCount, Environment.OSVersion.ToString(), DateTimeOffset.UtcNow, buildOutput ? "build output (JIT)" : "published (ReadyToRun)");
Console.WriteLine($"machine: {machine.Cores} cores; rounds {rounds}; replication {string.Join(",", replications)}; services {machine.Services}");
if (!buildOutput)
{
    await ServicePublisher.PublishAsync(Path.Combine(work, "services"), cancellationToken);
}

var oneGiB = quick ? 256L * 1024 * 1024 : 1L << 30;
var hundredMiB = 100L * 1024 * 1024;
var bigFile = Bodies.CreateRandomFile(work, oneGiB);
var mediumFile = Bodies.CreateRandomFile(work, hundredMiB);
var smallCount = quick ? 800 : 3000;
var warmUpRequests = quick ? 500 : 2000;

await using (var nginx = await Nginx.StartAsync(work, cancellationToken))
{
    using var baseline = new NginxTarget(nginx.Address);
    foreach (var replication in replications)
    {
        await using var cluster = await LocalCluster.StartAsync(
            new ClusterSettings(Path.Combine(work, $"cluster-r{replication}")) { GatewayPort = 0, ReplicationFactor = replication },
            cancellationToken);
        using var store = new StoreTarget(cluster.Gateway.Address, cluster.AdminKey);
        var label = $"R={replication}";
        Console.WriteLine($"{label}: gateway {cluster.Gateway.Address}, nginx {nginx.Address}");
        var cpu = new Dictionary<Target, ProcessTreeCpu>
        {
            [store] = new(() => [cluster.Gateway.Process.Id, cluster.Postgres.ServerProcessId, .. cluster.Nodes.Select(n => n.Process.Id)]),
            [baseline] = new(() => [nginx.ProcessId]),
        };

        await WarmUpAsync();
        if (!smallOnly)
        {
            results.Add(await Throughput($"upload {Size(oneGiB)} {label}", oneGiB, rounds, target => target.UploadAsync(Bodies.FromFile(bigFile), "big.bin", cancellationToken)));
            var storeBig = await store.UploadAsync(Bodies.FromFile(bigFile), "big.bin", cancellationToken);
            var nginxBig = await baseline.UploadAsync(Bodies.FromFile(bigFile), "big.bin", cancellationToken);
            results.Add(await Throughput($"download {Size(oneGiB)} {label}", oneGiB, rounds, target => target.DownloadAsync(target == store ? storeBig : nginxBig, null, cancellationToken)));
            results.Add(await Throughput($"upload 100 MiB {label}", hundredMiB, rounds, target => target.UploadAsync(Bodies.FromFile(mediumFile), "medium.bin", cancellationToken)));
            var storeMedium = await store.UploadAsync(Bodies.FromFile(mediumFile), "medium.bin", cancellationToken);
            var nginxMedium = await baseline.UploadAsync(Bodies.FromFile(mediumFile), "medium.bin", cancellationToken);
            results.Add(await Throughput($"download 100 MiB {label}", hundredMiB, rounds, target => target.DownloadAsync(target == store ? storeMedium : nginxMedium, null, cancellationToken)));
        }

        var payload = RandomNumberGenerator.GetBytes(4096);
        var storeSmall = new string[smallCount];
        var nginxSmall = new string[smallCount];
        results.Add(await Rate($"4 KiB uploads, 16 clients {label}", rounds, async target =>
        {
            var paths = target == store ? storeSmall : nginxSmall;
            return await Concurrent.RunAsync(16, smallCount, async i => paths[i] = await target.UploadAsync(new ByteArrayContent(payload), $"small-{i}.bin", cancellationToken), cancellationToken);
        }));
        results.Add(await Rate($"4 KiB downloads, 16 clients {label}", rounds, target =>
        {
            var paths = target == store ? storeSmall : nginxSmall;
            return Concurrent.RunAsync(16, smallCount, i => target.DownloadAsync(paths[i], null, cancellationToken), cancellationToken);
        }));

        // Metadata has no nginx equivalent: the baseline column is a 4 KiB GET from nginx.
        var ids = storeSmall.Select(p => p.Split('/').Last()).ToArray();
        results.Add(await Latency($"metadata GET p50/p99 (ms), 16 clients {label}", rounds, smallCount,
            () => Concurrent.RunAsync(16, smallCount, i => store.Http.GetStringAsync($"/files/{ids[i]}/metadata", cancellationToken), cancellationToken),
            () => Concurrent.RunAsync(16, smallCount, i => baseline.DownloadAsync(nginxSmall[i], null, cancellationToken), cancellationToken)));
        results.Add(await Latency($"list GET p50/p99 (ms), 16 clients {label}", rounds, smallCount / 4,
            () => Concurrent.RunAsync(16, smallCount / 4, _ => store.Http.GetStringAsync("/files?per_page=20", cancellationToken), cancellationToken),
            () => Concurrent.RunAsync(16, smallCount / 4, i => baseline.DownloadAsync(nginxSmall[i], null, cancellationToken), cancellationToken)));

        var gatewayPeak = cluster.Gateway.Process.PeakResidentBytes();
        var nodePeak = cluster.Nodes.Max(n => n.Process.PeakResidentBytes());
        Console.WriteLine($"{label}: peak RSS gateway {gatewayPeak / 1048576} MiB, largest node {nodePeak / 1048576} MiB");
        results.Add(new ScenarioResult($"peak RSS (MiB) {label}", "MiB", gatewayPeak / 1048576.0, nodePeak / 1048576.0, "gateway / largest node"));

        if (large)
        {
            results.AddRange(await LargeRoundTripAsync(store, cluster, cpu[store], label, cancellationToken));
        }

        if (million)
        {
            results.AddRange(await MillionFiles.RunAsync(store, cluster, cpu[store], label, cancellationToken));
        }

        // Untimed: the gateway and the nodes JIT-compile their hot paths over the first few
        // thousand requests (a third of the gateway's CPU in the first minute of small uploads);
        // what a user of a running store sees is the steady state. nginx gets the same pass.
        async Task WarmUpAsync()
        {
            var clock = Stopwatch.StartNew();
            var warmPayload = RandomNumberGenerator.GetBytes(4096);
            foreach (var target in new Target[] { store, baseline })
            {
                var medium = await target.UploadAsync(Bodies.FromFile(mediumFile), "warm-medium.bin", cancellationToken);
                await target.DownloadAsync(medium, null, cancellationToken);
                var small = new string[warmUpRequests];
                await Concurrent.RunAsync(16, warmUpRequests, async i => small[i] = await target.UploadAsync(new ByteArrayContent(warmPayload), $"warm-{i}.bin", cancellationToken), cancellationToken);
                await Concurrent.RunAsync(16, warmUpRequests, i => target.DownloadAsync(small[i], null, cancellationToken), cancellationToken);
                if (target == store)
                {
                    await Concurrent.RunAsync(16, warmUpRequests, i => store.Http.GetStringAsync($"/files/{small[i].Split('/').Last()}/metadata", cancellationToken), cancellationToken);
                    await Concurrent.RunAsync(16, warmUpRequests / 4, _ => store.Http.GetStringAsync("/files?per_page=20", cancellationToken), cancellationToken);
                }
            }

            Console.WriteLine($"{label}: warm-up done in {clock.Elapsed.TotalSeconds:F0} s");
        }

        async Task<ScenarioResult> Throughput(string scenario, long bytes, int count, Func<Target, Task> operation)
        {
            var times = new Dictionary<Target, List<double>> { [store] = [], [baseline] = [] };
            var cpuPerGiB = new Dictionary<Target, List<double>> { [store] = [], [baseline] = [] };
            for (var round = 0; round < count; round++)
            {
                // Alternate who goes first: the machine is shared and noisy; ratios hold, absolutes drift.
                foreach (var target in round % 2 == 0 ? new Target[] { store, baseline } : [baseline, store])
                {
                    var cpuBefore = cpu[target].Seconds();
                    var clock = Stopwatch.StartNew();
                    await operation(target);
                    times[target].Add(bytes / clock.Elapsed.TotalSeconds / 1e6);
                    cpuPerGiB[target].Add((cpu[target].Seconds() - cpuBefore) / (bytes / (double)(1L << 30)));
                }
            }

            return Report(new ScenarioResult(scenario, "MB/s", Median(times[store]), Median(times[baseline]), "higher")
            {
                StoreCpu = Median(cpuPerGiB[store]),
                BaselineCpu = Median(cpuPerGiB[baseline]),
                CpuUnit = "CPU-s/GiB",
            });
        }

        async Task<ScenarioResult> Rate(string scenario, int count, Func<Target, Task<(TimeSpan Elapsed, List<double> LatenciesMs)>> run)
        {
            var rates = new Dictionary<Target, List<double>> { [store] = [], [baseline] = [] };
            var cpuPerOperation = new Dictionary<Target, List<double>> { [store] = [], [baseline] = [] };
            for (var round = 0; round < count; round++)
            {
                foreach (var target in round % 2 == 0 ? new Target[] { store, baseline } : [baseline, store])
                {
                    var cpuBefore = cpu[target].Seconds();
                    var (elapsed, _) = await run(target);
                    rates[target].Add(smallCount / elapsed.TotalSeconds);
                    cpuPerOperation[target].Add((cpu[target].Seconds() - cpuBefore) * 1000 / smallCount);
                }
            }

            return Report(new ScenarioResult(scenario, "req/s", Median(rates[store]), Median(rates[baseline]), "higher")
            {
                StoreCpu = Median(cpuPerOperation[store]),
                BaselineCpu = Median(cpuPerOperation[baseline]),
                CpuUnit = "CPU-ms/op",
            });
        }

        async Task<ScenarioResult> Latency(string scenario, int count, int operations, Func<Task<(TimeSpan, List<double>)>> storeRun, Func<Task<(TimeSpan, List<double>)>> baselineRun)
        {
            var storeLatencies = new List<double>();
            var baselineLatencies = new List<double>();
            var storeCpu = new List<double>();
            var baselineCpu = new List<double>();
            for (var round = 0; round < count; round++)
            {
                var cpuBefore = cpu[store].Seconds();
                storeLatencies.AddRange((await storeRun()).Item2);
                storeCpu.Add((cpu[store].Seconds() - cpuBefore) * 1000 / operations);
                cpuBefore = cpu[baseline].Seconds();
                baselineLatencies.AddRange((await baselineRun()).Item2);
                baselineCpu.Add((cpu[baseline].Seconds() - cpuBefore) * 1000 / operations);
            }

            var result = new ScenarioResult(scenario, "ms", Concurrent.Percentile(storeLatencies, 99), Concurrent.Percentile(baselineLatencies, 99), "lower")
            {
                StoreP50 = Concurrent.Percentile(storeLatencies, 50),
                BaselineP50 = Concurrent.Percentile(baselineLatencies, 50),
                StoreCpu = Median(storeCpu),
                BaselineCpu = Median(baselineCpu),
                CpuUnit = "CPU-ms/op",
            };
            return Report(result);
        }
    }
}

var resultsDirectory = Path.Combine(FindRepositoryRoot(), "bench", "results");
Directory.CreateDirectory(resultsDirectory);
ResultWriter.Write(resultsDirectory, machine, results);
Console.WriteLine();
Console.WriteLine(ResultWriter.Table(results));
Console.WriteLine($"written: {Path.Combine(resultsDirectory, "latest.json")}, {Path.Combine(resultsDirectory, "latest.svg")}");
try
{
    Directory.Delete(work, recursive: true);
}
catch (IOException)
{
}

return 0;

static ScenarioResult Report(ScenarioResult result)
{
    Console.WriteLine(ResultWriter.Row(result));
    return result;
}

static double Median(List<double> values) => Concurrent.Percentile(values, 50);

static string Size(long bytes) => bytes >= 1L << 30 ? $"{bytes >> 30} GiB" : $"{bytes >> 20} MiB";

static string FindRepositoryRoot() => S3Storage.DevCluster.Processes.RepositoryLayout.Root;

// 10 GiB through the store and back, bytes compared by SHA-256, peak memory sampled meanwhile.
static async Task<List<ScenarioResult>> LargeRoundTripAsync(StoreTarget store, LocalCluster cluster, ProcessTreeCpu storeCpu, string label, CancellationToken cancellationToken)
{
    const long size = 10L << 30;
    var upload = new GeneratedBody(size, seed: 10);
    var cpuBefore = storeCpu.Seconds();
    var clock = Stopwatch.StartNew();
    var path = await store.UploadAsync(upload, "ten-gib.bin", cancellationToken);
    var uploadRate = size / clock.Elapsed.TotalSeconds / 1e6;
    var uploadCpu = (storeCpu.Seconds() - cpuBefore) / 10;
    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    cpuBefore = storeCpu.Seconds();
    clock.Restart();
    var read = await store.DownloadAsync(path, hash, cancellationToken);
    var downloadRate = size / clock.Elapsed.TotalSeconds / 1e6;
    var downloadCpu = (storeCpu.Seconds() - cpuBefore) / 10;
    var same = read == size && Convert.ToHexStringLower(hash.GetHashAndReset()) == upload.Sha256;
    var gatewayPeak = cluster.Gateway.Process.PeakResidentBytes() / 1048576.0;
    var nodePeak = cluster.Nodes.Max(n => n.Process.PeakResidentBytes()) / 1048576.0;
    Console.WriteLine($"10 GiB round trip {label}: up {uploadRate:F0} MB/s, down {downloadRate:F0} MB/s, bytes {(same ? "identical" : "DIFFERENT")}, peak RSS gateway {gatewayPeak:F0} MiB, node {nodePeak:F0} MiB");
    if (!same)
    {
        throw new InvalidOperationException("The 10 GiB file came back different.");
    }

    return
    [
        new ScenarioResult($"upload 10 GiB {label}", "MB/s", uploadRate, double.NaN, "higher") { StoreCpu = uploadCpu, CpuUnit = "CPU-s/GiB" },
        new ScenarioResult($"download 10 GiB {label}", "MB/s", downloadRate, double.NaN, "higher") { StoreCpu = downloadCpu, CpuUnit = "CPU-s/GiB" },
        new ScenarioResult($"peak RSS during 10 GiB (MiB) {label}", "MiB", gatewayPeak, nodePeak, "gateway / largest node"),
    ];
}
