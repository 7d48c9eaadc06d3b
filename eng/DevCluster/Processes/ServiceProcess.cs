using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using S3Storage.Contracts.Configuration;

namespace S3Storage.DevCluster.Processes;

/// <summary>
/// A service (gateway or node) running as its own process, configured only through
/// environment variables, with its output kept in a log file.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private const int TailLines = 200;

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly ConcurrentQueue<string> _tail = new();
    private readonly Task _pumps;

    private ServiceProcess(string name, Process process, StreamWriter log, string logPath)
    {
        Name = name;
        _process = process;
        _log = log;
        LogPath = logPath;
        _pumps = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
    }

    public string Name { get; }

    public int Id => _process.Id;

    public string LogPath { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The last lines the process wrote, for error messages.</summary>
    public string Tail => string.Join(Environment.NewLine, _tail);

    public static ServiceProcess Start(string name, string project, IReadOnlyDictionary<string, string?> environment, string logPath)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(RepositoryLayout.ServiceAssembly(project))!,
        };
        startInfo.ArgumentList.Add(RepositoryLayout.ServiceAssembly(project));
        // Never inherit a launch profile or an OTLP endpoint meant for the launcher itself.
        startInfo.Environment.Remove("ASPNETCORE_URLS");
        startInfo.Environment["DOTNET_NOLOGO"] = "1";
        // As Aspire does: telemetry is labelled with the resource name.
        startInfo.Environment["OTEL_SERVICE_NAME"] = name;
        startInfo.Environment["Logging__Console__FormatterName"] = "simple";
        startInfo.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        startInfo.Environment["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";
        foreach (var (key, value) in ServiceRuntime.Environment)
        {
            startInfo.Environment.TryAdd(key, value);
        }

        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key] = value;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {project}.");
        return new ServiceProcess(name, process, log, logPath);
    }

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Signal(int signal) => PosixSignals.Send(_process.Id, signal);

    /// <summary>SIGTERM, then SIGKILL if the process is still running after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            await _pumps;
            return;
        }

        try
        {
            Signal(PosixSignals.Term);
            await _process.WaitForExitAsync().WaitAsync(grace);
        }
        catch (TimeoutException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException) when (_process.HasExited)
        {
        }

        await _pumps;
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        await _pumps;
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Peak resident memory of the process so far (VmHWM), in bytes.</summary>
    public long PeakResidentBytes() => ReadStatusKilobytes("VmHWM") * 1024;

    public long ResidentBytes() => ReadStatusKilobytes("VmRSS") * 1024;

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(15));
        _process.Dispose();
        await _log.DisposeAsync();
    }

    private long ReadStatusKilobytes(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]);
            }
        }

        throw new InvalidOperationException($"/proc/{_process.Id}/status has no {field}.");
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            _tail.Enqueue(line);
            while (_tail.Count > TailLines)
            {
                _tail.TryDequeue(out _);
            }

            lock (_log)
            {
                _log.WriteLine(line);
            }
        }
    }
}
