using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Storage;

namespace S3Storage.DevCluster.Processes;

/// <summary>How to start one storage node: the same configuration keys the AppHost injects.</summary>
public sealed record StorageNodeSettings(string Name, string DataDirectory, string MetadataConnectionString, string ClusterSecret)
{
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; }

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan ScrubInterval { get; init; } = TimeSpan.Zero;

    public int VirtualNodes { get; init; } = Contracts.Placement.HashRing.DefaultVirtualNodes;

    /// <summary>Where the node's output goes; default <c>logs/&lt;name&gt;.log</c> beside the data directory.</summary>
    public string? LogFile { get; init; }

    /// <summary>Further settings, e.g. <c>Node__ShutdownTimeout</c>.</summary>
    public IReadOnlyDictionary<string, string?> Extra { get; init; } = new Dictionary<string, string?>();
}

/// <summary>A storage node process on loopback, and a gRPC channel to it.</summary>
public sealed class StorageNodeProcess : IAsyncDisposable
{
    public const string Project = "S3Storage.StorageNode";

    private StorageNodeProcess(StorageNodeSettings settings, ServiceProcess process, Uri address)
    {
        Settings = settings;
        Process = process;
        Address = address;
        Channel = CreateChannel(address);
        Client = new StorageNode.StorageNodeClient(WithClusterSecret(Channel, settings.ClusterSecret));
    }

    public StorageNodeSettings Settings { get; }

    public ServiceProcess Process { get; }

    public Uri Address { get; }

    public GrpcChannel Channel { get; }

    /// <summary>A client that presents the cluster secret, as the gateway does.</summary>
    public StorageNode.StorageNodeClient Client { get; }

    public string Name => Settings.Name;

    public string DataDirectory => Settings.DataDirectory;

    /// <summary>Starts the node and returns once it answers its health check as serving.</summary>
    public static async Task<StorageNodeProcess> StartAsync(StorageNodeSettings settings, CancellationToken cancellationToken)
    {
        var port = settings.Port != 0 ? settings.Port : ServiceProcess.FreeLoopbackPort();
        var address = new Uri($"http://127.0.0.1:{port}");
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = address.ToString(),
            ["ConnectionStrings__metadata"] = settings.MetadataConnectionString,
            ["Node__Name"] = settings.Name,
            ["Node__DataDir"] = settings.DataDirectory,
            ["Node__AdvertisedAddress"] = address.ToString().TrimEnd('/'),
            ["Node__HeartbeatInterval"] = settings.HeartbeatInterval.ToString("c"),
            ["Node__ScrubInterval"] = settings.ScrubInterval.ToString("c"),
            ["Storage__VirtualNodes"] = settings.VirtualNodes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cluster__Secret"] = settings.ClusterSecret,
        };
        foreach (var (key, value) in settings.Extra)
        {
            environment[key] = value;
        }

        var process = ServiceProcess.Start(settings.Name, Project, environment, settings.LogFile ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(settings.DataDirectory))!, "logs", settings.Name + ".log"));
        var node = new StorageNodeProcess(settings, process, address);
        try
        {
            await node.WaitUntilServingAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Calls on <paramref name="channel"/> that carry the cluster secret.</summary>
    public static CallInvoker WithClusterSecret(GrpcChannel channel, string clusterSecret) =>
        channel.Intercept(headers =>
        {
            headers.Add(ClusterOptions.HeaderName, clusterSecret);
            return headers;
        });

    public static GrpcChannel CreateChannel(Uri address) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                InitialHttp2StreamWindowSize = 16 * 1024 * 1024,
                EnableMultipleHttp2Connections = true,
                KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            },
            MaxReceiveMessageSize = 4 * 1024 * 1024,
        });

    public async Task WaitUntilServingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (true)
        {
            if (Process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {Process.ExitCode} while starting:{Environment.NewLine}{Process.Tail}");
            }

            try
            {
                var health = await Client.HealthCheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: deadline.Token);
                if (health.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (RpcException) when (!deadline.IsCancellationRequested)
            {
            }
            catch (RpcException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"{Name} did not become healthy within {timeout}:{Environment.NewLine}{Process.Tail}");
            }

            try
            {
                await Task.Delay(100, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"{Name} did not become healthy within {timeout}:{Environment.NewLine}{Process.Tail}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Process.DisposeAsync();
    }
}
