using System.Diagnostics;
using S3Storage.DevCluster.Processes;

namespace S3Storage.Bench;

/// <summary>
/// Publishes the gateway and the storage node the way a deployment does (`dotnet publish -c
/// Release`, ReadyToRun by eng/ServiceRuntime.props), so the bench measures the code that runs
/// in production and not the JIT-only build output the tests use. No build server stays behind
/// (`--disable-build-servers`) to share the cores with the measurement.
/// </summary>
public static class ServicePublisher
{
    private static readonly string[] Services = [GatewayProcess.Project, StorageNodeProcess.Project];

    /// <summary>Publishes into <paramref name="directory"/> and points the dev cluster at it.</summary>
    public static async Task PublishAsync(string directory, CancellationToken cancellationToken)
    {
        foreach (var project in Services)
        {
            var clock = Stopwatch.StartNew();
            var startInfo = new ProcessStartInfo("dotnet")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = RepositoryLayout.Root,
            };
            foreach (var argument in new[] { "publish", Path.Combine(project, project + ".csproj"), "-c", "Release", "-o", Path.Combine(directory, project), "-nologo", "-v", "q", "--disable-build-servers" })
            {
                startInfo.ArgumentList.Add(argument);
            }

            using var publish = Process.Start(startInfo) ?? throw new InvalidOperationException("dotnet publish did not start");
            var output = publish.StandardOutput.ReadToEndAsync(cancellationToken);
            var errors = publish.StandardError.ReadToEndAsync(cancellationToken);
            try
            {
                await publish.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                publish.Kill(entireProcessTree: true);
                throw;
            }

            if (publish.ExitCode != 0)
            {
                throw new InvalidOperationException($"dotnet publish {project} failed ({publish.ExitCode}):{Environment.NewLine}{await output}{await errors}");
            }

            Console.WriteLine($"published {project} (ReadyToRun) in {clock.Elapsed.TotalSeconds:F0} s");
        }

        RepositoryLayout.PublishedServices = directory;
    }
}
