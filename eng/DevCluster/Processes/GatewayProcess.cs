using System.Net.Http.Json;
using System.Text.Json;

namespace S3Storage.DevCluster.Processes;

/// <summary>How to start the gateway: the same configuration keys the AppHost injects.</summary>
public sealed record GatewaySettings(string MetadataConnectionString, int Port, string LogFile, string ClusterSecret, string AdminKey)
{
    public int ReplicationFactor { get; init; } = 2;

    public IReadOnlyDictionary<string, string?> Extra { get; init; } = new Dictionary<string, string?>();
}

/// <summary>The gateway as a process on loopback, and an HTTP client for it that presents the admin key.</summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    public const string Project = "S3Storage.Gateway";

    private GatewayProcess(ServiceProcess process, Uri address, string adminKey)
    {
        Process = process;
        Address = address;
        Http = CreateClient(adminKey);
    }

    public ServiceProcess Process { get; }

    public Uri Address { get; }

    /// <summary>A client with the admin key.</summary>
    public HttpClient Http { get; }

    /// <summary>A client of this gateway that presents <paramref name="token"/> (none when null).</summary>
    public HttpClient CreateClient(string? token)
    {
        var http = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2) })
        {
            BaseAddress = Address,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return http;
    }

    public static async Task<GatewayProcess> StartAsync(GatewaySettings settings, int expectedLiveNodes, IReadOnlyDictionary<string, string?> nodeEndpoints, CancellationToken cancellationToken)
    {
        var address = new Uri($"http://127.0.0.1:{settings.Port}");
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = address.ToString(),
            ["ConnectionStrings__metadata"] = settings.MetadataConnectionString,
            ["Storage__ReplicationFactor"] = settings.ReplicationFactor.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cluster__Secret"] = settings.ClusterSecret,
            ["Access__AdminKey"] = settings.AdminKey,
        };
        // What Aspire's WithReference(node) injects; placement itself reads the ring from PostgreSQL.
        foreach (var (key, value) in nodeEndpoints)
        {
            environment[key] = value;
        }

        foreach (var (key, value) in settings.Extra)
        {
            environment[key] = value;
        }

        var gateway = new GatewayProcess(ServiceProcess.Start(Path.GetFileNameWithoutExtension(settings.LogFile), Project, environment, settings.LogFile), address, settings.AdminKey);
        try
        {
            await gateway.WaitUntilReadyAsync(expectedLiveNodes, TimeSpan.FromSeconds(90), cancellationToken);
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for /health to answer with at least <paramref name="liveNodes"/> live storage nodes.</summary>
    public async Task WaitUntilReadyAsync(int liveNodes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            if (Process.HasExited)
            {
                throw new InvalidOperationException($"The gateway exited with code {Process.ExitCode} while starting:{Environment.NewLine}{Process.Tail}");
            }

            try
            {
                using var response = await Http.GetAsync("/health", cancellationToken);
                last = await response.Content.ReadAsStringAsync(cancellationToken);
                using var health = JsonDocument.Parse(last);
                if (health.RootElement.GetProperty("storage_servers").GetProperty("live").GetInt32() >= liveNodes)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
                last = e.Message;
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"The gateway did not see {liveNodes} live nodes within {timeout} (last /health: {last}):{Environment.NewLine}{Process.Tail}");
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
    }
}
