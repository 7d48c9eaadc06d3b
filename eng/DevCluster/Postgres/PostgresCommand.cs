namespace S3Storage.DevCluster.Postgres;

/// <summary>
/// <c>S3Storage.DevCluster postgres --data DIR --ready-file FILE</c>: the machine's own PostgreSQL
/// server, run until SIGTERM, for the AppHost on machines without a container runtime. It reads
/// the environment the official PostgreSQL image reads (<c>POSTGRES_PASSWORD</c>,
/// <c>POSTGRES_DB</c>), plus <c>POSTGRES_PORT</c>, the port the orchestrator allocated. FILE
/// exists exactly while the server accepts connections to the database: a client that connects
/// earlier, while PostgreSQL is still starting, leaves a FATAL in its log.
/// </summary>
internal static class PostgresCommand
{
    public const string Usage = "usage: S3Storage.DevCluster postgres --data DIR --ready-file FILE   (env POSTGRES_PORT, POSTGRES_PASSWORD, POSTGRES_DB)";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken stopping)
    {
        if (args is not ["--data", { Length: > 0 } dataDirectory, "--ready-file", { Length: > 0 } readyFile])
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        if (!int.TryParse(Environment.GetEnvironmentVariable("POSTGRES_PORT"), out var port) || port is < 1 or > 65535)
        {
            Console.Error.WriteLine($"error: POSTGRES_PORT must be a TCP port. {Usage}");
            return 2;
        }

        if (Environment.GetEnvironmentVariable("POSTGRES_PASSWORD") is not { Length: > 0 } password)
        {
            Console.Error.WriteLine($"error: POSTGRES_PASSWORD is not set: the server refuses connections without one. {Usage}");
            return 2;
        }

        var database = Environment.GetEnvironmentVariable("POSTGRES_DB") is { Length: > 0 } name ? name : LocalPostgresServer.SuperUser;

        // Left by a run that was killed: not ready until this run says so.
        readyFile = Path.GetFullPath(readyFile);
        Directory.CreateDirectory(Path.GetDirectoryName(readyFile)!);
        File.Delete(readyFile);

        LocalPostgresServer server;
        try
        {
            server = await LocalPostgresServer.StartAsync(
                new LocalPostgresOptions { DataDirectory = Path.GetFullPath(dataDirectory), Port = port, Password = password },
                stopping);
        }
        catch (Exception e) when (e is PostgresNotInstalledException or PostgresStartException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }

        await using (server)
        {
            if (!await server.DatabaseExistsAsync(database, stopping))
            {
                await server.CreateDatabaseAsync(database, cancellationToken: stopping);
                Console.WriteLine($"created database {database}");
            }

            // Standard output only: an orchestrator shows standard error as error logs.
            Console.WriteLine($"PostgreSQL is ready on 127.0.0.1:{port} (data {server.DataDirectory}, log {server.LogFile})");
            await File.WriteAllTextAsync(readyFile, port.ToString(System.Globalization.CultureInfo.InvariantCulture), stopping);
            try
            {
                await FollowAsync(server.LogFile, stopping);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                File.Delete(readyFile);
            }

            Console.WriteLine("stopping PostgreSQL");
        }

        return 0;
    }

    /// <summary>
    /// Copies the server's log file to standard output as it grows, so the server's own lines
    /// show under this resource in the dashboard, as a container's would.
    /// </summary>
    private static async Task FollowAsync(string logFile, CancellationToken stopping)
    {
        await using var log = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(log);
        while (true)
        {
            while (await reader.ReadLineAsync(stopping) is { } line)
            {
                Console.WriteLine(line);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), stopping);
        }
    }
}
