using System.Diagnostics;

namespace S3Storage.DevCluster.Postgres;

/// <summary>Finds the PostgreSQL server binaries (<c>initdb</c>, <c>pg_ctl</c>) installed on this machine.</summary>
public static class PostgresBinaries
{
    /// <summary>Overrides the search: a directory that holds <c>initdb</c> and <c>pg_ctl</c>.</summary>
    public const string DirectoryVariable = "S3STORAGE_PG_BIN";

    public const string InstallHint =
        "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them (Debian/Ubuntu: " +
        "'sudo apt-get install -y postgresql'; macOS: 'brew install postgresql') or set " +
        DirectoryVariable + " to the directory that holds them.";

    /// <summary>The directory holding <c>initdb</c> and <c>pg_ctl</c>, or null when none is installed.</summary>
    public static string? Find()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        if (PgConfigBinDirectory() is { } fromPgConfig)
        {
            candidates.Add(fromPgConfig);
        }

        // Debian keeps server binaries out of PATH, one directory per major version: newest first.
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(dir => int.TryParse(Path.GetFileName(dir), out var major) ? major : 0)
                .Select(dir => Path.Combine(dir, "bin")));
        }

        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));

        return candidates.FirstOrDefault(dir => File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")));
    }

    public static string FindOrThrow() => Find() ?? throw new PostgresNotInstalledException(InstallHint);

    private static string? PgConfigBinDirectory()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("pg_config", "--bindir")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 && output.Length > 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}

public sealed class PostgresNotInstalledException(string message) : Exception(message);
