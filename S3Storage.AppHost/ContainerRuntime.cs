using System.ComponentModel;
using System.Diagnostics;

namespace S3Storage.AppHost;

/// <summary>Whether a container runtime can run the PostgreSQL container here.</summary>
internal static class ContainerRuntime
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Why the runtime the orchestrator would use (<paramref name="configuredRuntime"/>, from
    /// ASPIRE_CONTAINER_RUNTIME; docker by default) cannot run containers, or null when
    /// `&lt;runtime&gt; info` answers: installed, and its daemon up.
    /// </summary>
    public static string? Problem(string? configuredRuntime)
    {
        var runtime = configuredRuntime is { Length: > 0 } ? configuredRuntime : "docker";
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, ["info", "--format", "{{.ServerVersion}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return $"'{runtime}' could not be started";
            }

            var error = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(AnswerTimeout))
            {
                process.Kill(entireProcessTree: true);
                return $"'{runtime} info' did not answer within {AnswerTimeout.TotalSeconds:F0} s";
            }

            return process.ExitCode == 0 ? null : $"'{runtime} info' failed: {error.Result.Trim()}";
        }
        catch (Win32Exception e)
        {
            return $"'{runtime}' cannot be run ({e.Message})";
        }
    }
}
