using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;
using S3Storage.Contracts.Access;
using S3Storage.Contracts.Configuration;
using S3Storage.DevCluster.Postgres;
using S3Storage.DevCluster.Processes;

namespace S3Storage.DevCluster;

/// <summary>The dev cluster's shape: what `dotnet run --project eng/DevCluster` and the cluster tests start.</summary>
public sealed record ClusterSettings(string DataDirectory)
{
    /// <summary>0 picks a free port.</summary>
    public int GatewayPort { get; init; } = 8080;

    public int Nodes { get; init; } = 6;

    public int ReplicationFactor { get; init; } = 2;

    /// <summary>False only for throwaway test clusters: PostgreSQL then runs without fsync.</summary>
    public bool DurablePostgres { get; init; } = true;

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Extra gateway settings (env names), e.g. shorter intervals for tests.</summary>
    public IReadOnlyDictionary<string, string?> GatewayEnvironment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Extra settings for every node.</summary>
    public IReadOnlyDictionary<string, string?> NodeEnvironment { get; init; } = new Dictionary<string, string?>();

    /// <summary>The secret the gateway presents to the nodes: new for every start, as nothing outside the cluster needs it.</summary>
    public string ClusterSecret { get; init; } = ClusterOptions.Generate();
}

/// <summary>A problem starting the cluster that the user can fix; reported as one line.</summary>
public sealed class ClusterStartException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// PostgreSQL, the storage nodes and the gateway as real processes on loopback, wired through
/// the configuration keys the AppHost injects: the AppHost's topology without Aspire.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    public const string Database = "metadata";

    private readonly List<StorageNodeProcess> _nodes = [];

    /// <summary>Where the dev cluster keeps its admin key between runs, beside the data it guards.</summary>
    public const string AdminKeyFileName = "admin-key";

    private LocalCluster(ClusterSettings settings, LocalPostgresServer postgres, string adminKey)
    {
        Settings = settings;
        Postgres = postgres;
        AdminKey = adminKey;
    }

    /// <summary>The gateway's first admin key (<c>Access__AdminKey</c>), as a bearer token.</summary>
    public string AdminKey { get; }

    public ClusterSettings Settings { get; }

    public LocalPostgresServer Postgres { get; }

    public string MetadataConnectionString => Postgres.ConnectionString(Database);

    public IReadOnlyList<StorageNodeProcess> Nodes => _nodes;

    public GatewayProcess Gateway { get; private set; } = null!;

    private GatewaySettings? _gatewaySettings;

    public string LogDirectory => Path.Combine(Settings.DataDirectory, "logs");

    public static async Task<LocalCluster> StartAsync(ClusterSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Nodes < settings.ReplicationFactor)
        {
            throw new ClusterStartException($"--replication {settings.ReplicationFactor} needs at least that many nodes, not {settings.Nodes}.");
        }

        var gatewayPort = settings.GatewayPort == 0 ? ServiceProcess.FreeLoopbackPort() : settings.GatewayPort;
        EnsurePortFree(gatewayPort);
        Directory.CreateDirectory(settings.DataDirectory);

        LocalPostgresServer postgres;
        try
        {
            postgres = await LocalPostgresServer.StartAsync(
                new LocalPostgresOptions
                {
                    DataDirectory = Path.Combine(settings.DataDirectory, "postgres"),
                    Durable = settings.DurablePostgres,
                    // Password authentication, as every deployed server asks: the services must
                    // keep the password wherever they pass the connection string on.
                    Password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
                },
                cancellationToken);
        }
        catch (Exception e) when (e is PostgresNotInstalledException or PostgresStartException)
        {
            throw new ClusterStartException(e.Message, e);
        }

        var cluster = new LocalCluster(settings, postgres, await AdminKeyAsync(settings.DataDirectory, cancellationToken));
        try
        {
            if (!await postgres.DatabaseExistsAsync(Database, cancellationToken))
            {
                await postgres.CreateDatabaseAsync(Database, cancellationToken: cancellationToken);
            }

            var nodes = await Task.WhenAll(Enumerable.Range(1, settings.Nodes).Select(i => cluster.LaunchNodeAsync($"storage-{i}", cancellationToken)));
            cluster._nodes.AddRange(nodes);
            await cluster.WaitForRegistrationsAsync(nodes, cancellationToken);
            cluster._gatewaySettings = new GatewaySettings(cluster.MetadataConnectionString, gatewayPort, Path.Combine(cluster.LogDirectory, "gateway.log"), settings.ClusterSecret, cluster.AdminKey)
            {
                ReplicationFactor = settings.ReplicationFactor,
                Extra = settings.GatewayEnvironment,
            };
            cluster.Gateway = await GatewayProcess.StartAsync(cluster._gatewaySettings, settings.Nodes, cluster.NodeEndpoints(), cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more node (e.g. a 7th) and waits for its registration.</summary>
    public async Task<StorageNodeProcess> AddNodeAsync(string name, CancellationToken cancellationToken)
    {
        var node = await LaunchNodeAsync(name, cancellationToken);
        _nodes.Add(node);
        await WaitForRegistrationsAsync([node], cancellationToken);
        return node;
    }

    /// <summary>Starts a stopped or killed node again on its data directory (its id and chunks stay).</summary>
    public async Task<StorageNodeProcess> RestartNodeAsync(StorageNodeProcess node, CancellationToken cancellationToken)
    {
        await node.DisposeAsync();
        var restarted = await LaunchNodeAsync(node.Name, cancellationToken);
        _nodes[_nodes.IndexOf(node)] = restarted;
        await WaitForRegistrationsAsync([restarted], cancellationToken);
        return restarted;
    }

    /// <summary>Stops the gateway (SIGKILL when <paramref name="kill"/>, as in a crash) and starts it again on the same port.</summary>
    public async Task<GatewayProcess> RestartGatewayAsync(bool kill, CancellationToken cancellationToken)
    {
        if (kill)
        {
            await Gateway.Process.KillAsync();
        }

        await Gateway.DisposeAsync();
        Gateway = await GatewayProcess.StartAsync(_gatewaySettings!, await ActiveNodeCountAsync(cancellationToken), NodeEndpoints(), cancellationToken);
        return Gateway;
    }

    /// <summary>
    /// Starts a second gateway on the same database and nodes (a scaled-out deployment), on a
    /// free port with its own log; the caller stops it.
    /// </summary>
    public Task<GatewayProcess> StartAnotherGatewayAsync(string name, IReadOnlyDictionary<string, string?>? extra, CancellationToken cancellationToken)
    {
        var settings = _gatewaySettings! with
        {
            Port = ServiceProcess.FreeLoopbackPort(),
            LogFile = Path.Combine(LogDirectory, name + ".log"),
            Extra = Merge(_gatewaySettings!.Extra, extra),
        };
        return GatewayProcess.StartAsync(settings, Nodes.Count, NodeEndpoints(), cancellationToken);
    }

    private static Dictionary<string, string?> Merge(IReadOnlyDictionary<string, string?> settings, IReadOnlyDictionary<string, string?>? overrides)
    {
        var merged = new Dictionary<string, string?>(settings);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        return merged;
    }

    public async ValueTask DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        await Task.WhenAll(_nodes.Select(n => n.DisposeAsync().AsTask()));
        await Postgres.DisposeAsync();
    }

    private Task<StorageNodeProcess> LaunchNodeAsync(string name, CancellationToken cancellationToken) =>
        StorageNodeProcess.StartAsync(
            new StorageNodeSettings(name, Path.Combine(Settings.DataDirectory, name), MetadataConnectionString, Settings.ClusterSecret)
            {
                HeartbeatInterval = Settings.HeartbeatInterval,
                LogFile = Path.Combine(LogDirectory, name + ".log"),
                Extra = Settings.NodeEnvironment,
            },
            cancellationToken);

    /// <summary><c>services__storage-N__http__0</c>, as Aspire's WithReference(node) sets it on the gateway.</summary>
    private Dictionary<string, string?> NodeEndpoints() =>
        _nodes.ToDictionary(n => $"services__{n.Name}__http__0", n => (string?)n.Address.ToString().TrimEnd('/'));

    /// <summary>Registered nodes that placement may use: active, with a heartbeat in the last few seconds.</summary>
    private async Task<int> ActiveNodeCountAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString(Database, pooling: false));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM storage_servers WHERE status = 'active' AND last_heartbeat > now() - @age", connection);
        command.Parameters.AddWithValue("age", Settings.HeartbeatInterval * 3);
        return (int)(long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static readonly TimeSpan RegistrationTimeout = TimeSpan.FromSeconds(150);

    /// <summary>Nodes register shortly after they serve; the gateway's first ring load must see them.</summary>
    private async Task WaitForRegistrationsAsync(IReadOnlyCollection<StorageNodeProcess> started, CancellationToken cancellationToken)
    {
        var expected = started.Select(n => n.Address.ToString().TrimEnd('/')).ToArray();
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString(Database, pooling: false));
        await connection.OpenAsync(cancellationToken);
        // Generous: in CI several clusters start at once on two cores (a 60 s wait timed out once
        // while the S3 test clusters started beside the resilience cluster).
        var deadline = DateTime.UtcNow.Add(RegistrationTimeout);
        while (true)
        {
            await using var command = new NpgsqlCommand(
                "SELECT grpc_address FROM storage_servers WHERE status IN ('active', 'draining') AND grpc_address = ANY(@addresses)", connection);
            command.Parameters.AddWithValue("addresses", expected);
            var registered = new HashSet<string>(StringComparer.Ordinal);
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    registered.Add(reader.GetString(0));
                }
            }

            var waiting = started.Where(n => !registered.Contains(n.Address.ToString().TrimEnd('/'))).ToList();
            if (waiting.Count == 0)
            {
                return;
            }

            if (waiting.FirstOrDefault(n => n.Process.HasExited) is { } exited)
            {
                throw new InvalidOperationException($"{exited.Name} exited with code {exited.Process.ExitCode} before it registered:{Environment.NewLine}{exited.Process.Tail}");
            }

            if (DateTime.UtcNow > deadline)
            {
                // The test fixtures delete the cluster's directory when they stop, so the logs
                // of the nodes that did not register go into the error itself.
                var tails = waiting.Select(n => $"--- {n.Name} ({n.Address}), the end of {n.Process.LogPath}:{Environment.NewLine}{string.Join(Environment.NewLine, n.Process.Tail.Split(Environment.NewLine).TakeLast(60))}");
                throw new TimeoutException(
                    $"Not every node registered within {RegistrationTimeout.TotalSeconds:F0} s: {string.Join(", ", waiting.Select(n => n.Name))} did not.{Environment.NewLine}{string.Join(Environment.NewLine, tails)}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>
    /// The admin key kept in the data directory (readable by its owner only), made on the first
    /// run: the key a developer copied stays valid across restarts, as the files do.
    /// </summary>
    private static async Task<string> AdminKeyAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(dataDirectory, AdminKeyFileName);
        if (File.Exists(path) && AccessKeyToken.TryParse((await File.ReadAllTextAsync(path, cancellationToken)).Trim(), out var kept))
        {
            return kept.Value;
        }

        var token = AccessKeyToken.Generate().Value;
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var file = new FileStream(path, options))
        {
            await file.WriteAsync(System.Text.Encoding.ASCII.GetBytes(token + "\n"), cancellationToken);
        }

        return token;
    }

    private static void EnsurePortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
        catch (SocketException)
        {
            throw new ClusterStartException($"Port {port} on 127.0.0.1 is taken; choose another with --port.");
        }
    }
}
