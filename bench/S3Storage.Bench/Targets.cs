using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;

namespace S3Storage.Bench;

/// <summary>Where a benchmark puts and gets bytes: the store's gateway or the nginx baseline.</summary>
public abstract class Target(string name, Uri address) : IDisposable
{
    public string Name { get; } = name;

    /// <summary>One process, pooled keep-alive connections: starting a process per request would measure process start.</summary>
    public HttpClient Http { get; } = new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 64,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        AutomaticDecompression = System.Net.DecompressionMethods.None,
    })
    {
        BaseAddress = address,
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>Uploads and returns the path to read it back from.</summary>
    public abstract Task<string> UploadAsync(HttpContent content, string name, CancellationToken cancellationToken);

    /// <summary>Reads a path to the end, discarding the bytes (or hashing them); returns how many.</summary>
    public async Task<long> DownloadAsync(string path, IncrementalHash? hash, CancellationToken cancellationToken)
    {
        using var response = await Http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[256 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash?.AppendData(buffer, 0, read);
            total += read;
        }

        return total;
    }

    public void Dispose() => Http.Dispose();

    protected static HttpContent Octets(HttpContent content)
    {
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }
}

public sealed class StoreTarget : Target
{
    public StoreTarget(Uri gateway, string accessKey)
        : base("store", gateway)
    {
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessKey);
    }

    public override async Task<string> UploadAsync(HttpContent content, string name, CancellationToken cancellationToken)
    {
        using var response = await Http.PostAsync($"/files?filename={Uri.EscapeDataString(name)}", Octets(content), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"upload answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        var created = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return created.GetProperty("location").GetString()!;
    }
}

public sealed class NginxTarget(Uri nginx) : Target("nginx", nginx)
{
    public override async Task<string> UploadAsync(HttpContent content, string name, CancellationToken cancellationToken)
    {
        var path = $"/data/{Uri.EscapeDataString(name)}";
        using var response = await Http.PutAsync(path, Octets(content), cancellationToken);
        response.EnsureSuccessStatusCode();
        return path;
    }
}

/// <summary>A body read from a file on disk (page cache warm after the first round), the same for both targets.</summary>
public static class Bodies
{
    public static HttpContent FromFile(string path) =>
        new StreamContent(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan), 1024 * 1024);

    public static string CreateRandomFile(string directory, long size)
    {
        var path = Path.Combine(directory, $"random-{size}.bin");
        if (File.Exists(path) && new FileInfo(path).Length == size)
        {
            return path;
        }

        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        var buffer = new byte[4 * 1024 * 1024];
        var random = new Random(size.GetHashCode());
        for (long written = 0; written < size; written += buffer.Length)
        {
            random.NextBytes(buffer);
            file.Write(buffer, 0, (int)Math.Min(buffer.Length, size - written));
        }

        return path;
    }
}

/// <summary>Latencies of many small requests from concurrent clients.</summary>
public static class Concurrent
{
    /// <summary>Runs <paramref name="total"/> operations spread over <paramref name="clients"/> workers; returns wall time and each latency.</summary>
    public static async Task<(TimeSpan Elapsed, List<double> LatenciesMs)> RunAsync(int clients, int total, Func<int, Task> operation, CancellationToken cancellationToken)
    {
        var latencies = new double[total];
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var started = Stopwatch.GetTimestamp();
                await operation(i);
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }));
        return (clock.Elapsed, latencies.ToList());
    }

    public static double Percentile(IReadOnlyList<double> values, double percentile)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(percentile / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
