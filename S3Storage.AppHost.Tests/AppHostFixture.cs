using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;

namespace S3Storage.AppHost.Tests;

/// <summary>
/// The real AppHost, started once for a test class through Aspire's test host: the
/// orchestrator, PostgreSQL (as the subclass chooses), the gateway and six storage nodes as
/// real processes, with every resource's console output recorded from the first line.
/// </summary>
public abstract partial class AppHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);

    public static readonly string[] NodeNames = [.. Enumerable.Range(1, 6).Select(i => "storage-" + i)];

    /// <summary>What the cluster is made of, in either setup (Aspire adds hidden helpers beside them).</summary>
    public static readonly string[] WatchedResources = ["postgres", "metadata", "gateway", .. NodeNames];

    private readonly ConcurrentDictionary<string, ConcurrentQueue<LogLine>> _logs = new();
    private readonly CancellationTokenSource _stopWatching = new();
    private readonly ConcurrentBag<Task> _watchers = [];
    private DistributedApplication? _app;

    /// <summary>Where node chunks and a local PostgreSQL server live: a new directory per run.</summary>
    protected string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "s3storage-apphost-" + Guid.NewGuid().ToString("N"));

    /// <summary>Why this setup cannot run on this machine; null when it runs.</summary>
    public string? SkipReason { get; private set; }

    public DistributedApplication App => _app ?? throw new InvalidOperationException(SkipReason ?? "The AppHost has not started.");

    /// <summary>Every resource's console lines up to the moment the whole cluster was healthy.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<LogLine>> StartupLogs { get; private set; } = new Dictionary<string, IReadOnlyList<LogLine>>();

    /// <summary>How long the AppHost took from start to every resource healthy and six nodes live.</summary>
    public TimeSpan TimeToHealthy { get; private set; }

    /// <summary>The AppHost arguments that choose this setup's database.</summary>
    protected abstract IEnumerable<string> Arguments();

    /// <summary>Why this setup cannot run here, checked before anything starts; null when it can.</summary>
    protected virtual string? CannotRunBecause() => null;

    public async ValueTask InitializeAsync()
    {
        SkipReason = CannotRunBecause();
        if (SkipReason is not null)
        {
            return;
        }

        var cancellationToken = TestContext.Current.CancellationToken;
        // With the dashboard, as F5 runs it: the services export their telemetry to it, and
        // without it they would spend their shutdown retrying a dead OTLP endpoint (longer than
        // the orchestrator waits for a stop command). Fresh ports, so no other run collides.
        var dashboardArguments = new[] { "ASPNETCORE_URLS", "ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL", "ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL" }
            .Select(key => $"--{key}=http://localhost:{FreeLoopbackPort()}");
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.S3Storage_AppHost>(
            [.. Arguments(), "--DataDirectory=" + DataDirectory, .. dashboardArguments],
            (application, _) => application.DisableDashboard = false,
            cancellationToken);
        _app = await appHost.BuildAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);

        // Console logs are kept per orchestrator resource id (a name with a suffix), known once
        // the resource is created: follow each as it appears. The orchestrator replays a
        // process's output from its first line.
        var loggers = _app.Services.GetRequiredService<ResourceLoggerService>();
        var model = _app.Services.GetRequiredService<DistributedApplicationModel>();
        var followed = new ConcurrentDictionary<string, bool>();
        _watchers.Add(Task.Run(async () =>
        {
            await foreach (var update in _app.ResourceNotifications.WatchAsync(_stopWatching.Token))
            {
                if (!followed.TryAdd(update.ResourceId, true))
                {
                    continue;
                }

                var lines = _logs.GetOrAdd(update.Resource.Name, _ => new ConcurrentQueue<LogLine>());
                _watchers.Add(Task.Run(async () =>
                {
                    await foreach (var batch in loggers.WatchAsync(update.ResourceId).WithCancellation(_stopWatching.Token))
                    {
                        foreach (var line in batch)
                        {
                            lines.Enqueue(line);
                        }
                    }
                }, CancellationToken.None));
            }
        }, CancellationToken.None));

        var started = Stopwatch.StartNew();
        await _app.StartAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        async Task<string> ParameterAsync(string name) =>
            await model.Resources.OfType<ParameterResource>().Single(p => p.Name == name).GetValueAsync(cancellationToken)
                ?? throw new InvalidOperationException($"The {name} parameter has no value.");
        AdminKey = $"s3s_{await ParameterAsync("aws-access-key-id")}_{await ParameterAsync("aws-secret-access-key")}";
        foreach (var resource in model.Resources.Where(r => WatchedResources.Contains(r.Name)))
        {
            try
            {
                await _app.ResourceNotifications.WaitForResourceHealthyAsync(resource.Name, cancellationToken).WaitAsync(StartTimeout, cancellationToken);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{resource.Name} did not become healthy within {StartTimeout}. {Describe(model)}", e);
            }
        }

        // Nodes register a moment after they serve: the cluster is up when the gateway places on all six.
        await WaitForLiveNodesAsync(NodeNames.Length, cancellationToken);
        TimeToHealthy = started.Elapsed;

        // What a health publisher or a late start-up step logs comes a few seconds after.
        await Task.Delay(TimeSpan.FromSeconds(6), cancellationToken);
        StartupLogs = _logs.ToDictionary(entry => entry.Key, entry => (IReadOnlyList<LogLine>)[.. entry.Value]);
    }

    /// <summary>Each resource's state, health and last log lines: what a failed start needs explained.</summary>
    private string Describe(DistributedApplicationModel model)
    {
        var description = new System.Text.StringBuilder();
        foreach (var resource in model.Resources.Where(r => WatchedResources.Contains(r.Name)))
        {
            var state = App.ResourceNotifications.TryGetCurrentState(resource.Name, out var current)
                ? $"{current.Snapshot.State?.Text} health {current.Snapshot.HealthStatus?.ToString() ?? "-"}"
                : "no state";
            description.Append('\n').Append(resource.Name).Append(": ").Append(state);
            foreach (var line in _logs.GetValueOrDefault(resource.Name)?.TakeLast(12) ?? [])
            {
                description.Append("\n    ").Append(line.Content);
            }
        }

        return description.ToString();
    }

    /// <summary>The last console lines of a resource, to explain a failed step.</summary>
    public string LogTail(string resourceName, int lines = 60) =>
        string.Join('\n', _logs.GetValueOrDefault(resourceName)?.TakeLast(lines).Select(line => line.Content) ?? []);

    /// <summary>The admin key the AppHost gave the gateway, as a token made of its <c>aws-access-key-id</c> and <c>aws-secret-access-key</c> parameters.</summary>
    public string AdminKey { get; private set; } = "";

    /// <summary>A client of the gateway resource that presents the admin key, as a user of the running cluster would.</summary>
    public HttpClient CreateGatewayClient()
    {
        var http = App.CreateHttpClient("gateway");
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
        return http;
    }

    public async Task WaitForLiveNodesAsync(int count, CancellationToken cancellationToken)
    {
        using var http = CreateGatewayClient();
        var deadline = DateTime.UtcNow + StartTimeout;
        while ((await http.GetFromJsonAsync<JsonElement>("/health", cancellationToken)).GetProperty("storage_servers").GetProperty("live").GetInt32() != count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the gateway never saw {count} live storage nodes");
            await Task.Delay(500, cancellationToken);
        }
    }

    /// <summary>
    /// Lines that report an error: from a .NET process, a log entry at Error or Critical level
    /// (the console logger's "fail:" and "crit:") or anything on standard error; from
    /// PostgreSQL, ERROR, FATAL or PANIC (in a container it writes all its logs to standard
    /// error; the local server's log reaches the `postgres` process's standard output).
    /// Not an error: "the database system is starting up", the server's answer to a client
    /// that connects in the moment between opening its port and finishing start-up (Aspire's
    /// health check probes the container as soon as the port is open; a CI run at fc6a918 met
    /// it once). The probe comes back, and nothing of ours connects before the resource is healthy.
    /// </summary>
    public static bool IsError(IResource resource, LogLine line)
    {
        var content = AnsiEscape().Replace(line.Content, "");
        if (resource is ContainerResource)
        {
            return IsPostgresError(content);
        }

        return line.IsErrorMessage
            || DotnetError().IsMatch(content)
            || (resource.Name == "postgres" && IsPostgresError(content));
    }

    private static bool IsPostgresError(string content) =>
        PostgresError().IsMatch(content) && !content.Contains("FATAL:  the database system is starting up", StringComparison.Ordinal);

    [GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial Regex AnsiEscape();

    [GeneratedRegex(@"(^|\s)(fail|crit): ")]
    private static partial Regex DotnetError();

    [GeneratedRegex(@"\b(ERROR|FATAL|PANIC):")]
    private static partial Regex PostgresError();

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await _stopWatching.CancelAsync();
        await Task.WhenAll(_watchers).ContinueWith(_ => { }, TaskScheduler.Default);
        _stopWatching.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        GC.SuppressFinalize(this);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>PostgreSQL from the machine's own server binaries, as the AppHost runs where no container runtime is.</summary>
public sealed class LocalPostgresAppHost : AppHostFixture
{
    protected override IEnumerable<string> Arguments() => ["--MetadataDatabase:Server=local"];
}

/// <summary>
/// PostgreSQL as a container, as the AppHost runs on a developer machine with Docker. With no
/// registry reachable, S3STORAGE_POSTGRES_IMAGE names a locally built image (image:tag) that
/// honours the official image's environment; unset, the AppHost's default image is used.
/// </summary>
public sealed class ContainerPostgresAppHost : AppHostFixture
{
    public const string ImageVariable = "S3STORAGE_POSTGRES_IMAGE";

    // The same check the AppHost's auto mode makes.
    protected override string? CannotRunBecause() =>
        ContainerRuntime.Problem(Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME")) is { } problem ? "no container runtime: " + problem : null;

    protected override IEnumerable<string> Arguments()
    {
        yield return "--MetadataDatabase:Server=container";
        // A throwaway database: a named volume would outlive the test run.
        yield return "--MetadataDatabase:DataVolume=false";
        if (Environment.GetEnvironmentVariable(ImageVariable) is { Length: > 0 } image)
        {
            var tagAt = image.LastIndexOf(':');
            yield return "--MetadataDatabase:Image=" + (tagAt > image.LastIndexOf('/') ? image[..tagAt] : image);
            if (tagAt > image.LastIndexOf('/'))
            {
                yield return "--MetadataDatabase:Tag=" + image[(tagAt + 1)..];
            }
        }
    }
}
