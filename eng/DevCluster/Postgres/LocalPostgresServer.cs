using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace S3Storage.DevCluster.Postgres;

/// <summary>How to start a local PostgreSQL server.</summary>
public sealed record LocalPostgresOptions
{
    /// <summary>Where the cluster's files live. Null: a new temporary directory, deleted on dispose.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>TCP port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>
    /// False turns fsync and full-page writes off: fast for tests, and a crash may lose the
    /// data, so only for throwaway servers.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>
    /// The superuser's password for TCP connections (SCRAM-SHA-256), as a deployed server asks
    /// for one. Null: trust authentication. Set again at every start, so a data directory made
    /// with another password follows the one given now.
    /// </summary>
    public string? Password { get; init; }
}

/// <summary>
/// A PostgreSQL server started from the machine's own binaries, listening on 127.0.0.1 only,
/// with password (SCRAM-SHA-256) or trust authentication on TCP, and trust on its Unix socket,
/// which lives in the data directory where only the server's user (and root) can reach it.
/// Stopped (and its temporary directory deleted) on dispose.
/// </summary>
public sealed class LocalPostgresServer : IAsyncDisposable
{
    public const string SuperUser = "postgres";

    private const int StartAttempts = 3;

    private readonly string _binDirectory;
    private readonly bool _ownsDataDirectory;
    private bool _stopped;

    private LocalPostgresServer(string binDirectory, string dataDirectory, int port, string? password, bool ownsDataDirectory)
    {
        _binDirectory = binDirectory;
        DataDirectory = dataDirectory;
        Port = port;
        _password = password;
        _ownsDataDirectory = ownsDataDirectory;
    }

    private readonly string? _password;

    public string DataDirectory { get; }

    public int Port { get; }

    /// <summary>The postmaster's process id (the first line of postmaster.pid); its backends are its children.</summary>
    public int ServerProcessId => int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The server's log file, worth reading when something fails.</summary>
    public string LogFile => Path.Combine(DataDirectory, "server.log");

    public string ConnectionString(string database, bool pooling = true)
    {
        var builder = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = SuperUser, Password = _password, Database = database };
        if (!pooling)
        {
            builder.Pooling = false;
        }

        return builder.ConnectionString;
    }

    public static async Task<LocalPostgresServer> StartAsync(LocalPostgresOptions options, CancellationToken cancellationToken)
    {
        var binDirectory = PostgresBinaries.FindOrThrow();
        var ownsDataDirectory = options.DataDirectory is null;
        var dataDirectory = Path.GetFullPath(options.DataDirectory
            ?? Path.Combine(Path.GetTempPath(), $"s3storage-pg-{Guid.NewGuid():N}"));

        try
        {
            await InitializeAsync(binDirectory, dataDirectory, options.Password, cancellationToken);
            for (var attempt = 1; ; attempt++)
            {
                var port = options.Port != 0 ? options.Port : FreeLoopbackPort();
                var server = new LocalPostgresServer(binDirectory, dataDirectory, port, options.Password, ownsDataDirectory);
                try
                {
                    await server.StartServerAsync(options.Durable, cancellationToken);
                    await server.SetPasswordAsync(cancellationToken);
                    return server;
                }
                catch (PostgresStartException) when (options.Port == 0 && attempt < StartAttempts)
                {
                    // Another process may have taken the free port between our probe and the
                    // server's bind; try a new one.
                }
            }
        }
        catch when (ownsDataDirectory)
        {
            TryDeleteDirectory(dataDirectory);
            throw;
        }
    }

    public async Task CreateDatabaseAsync(string name, string? template = null, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres", pooling: false));
        await connection.OpenAsync(cancellationToken);
        var sql = $"CREATE DATABASE {Quote(name)}" + (template is null ? "" : $" TEMPLATE {Quote(template)}");
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> DatabaseExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres", pooling: false));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        command.Parameters.AddWithValue("name", name);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await RunAsync(Tool("pg_ctl"), ["stop", "-D", DataDirectory, "-m", "fast", "-w"], cancellationToken, allowFailure: true);
    }

    /// <summary>Stops the server as a crash would (<c>pg_ctl stop -m immediate</c>): connections cut, no checkpoint.</summary>
    public async Task CrashAsync(CancellationToken cancellationToken = default)
    {
        _stopped = true;
        await RunAsync(Tool("pg_ctl"), ["stop", "-D", DataDirectory, "-m", "immediate", "-w"], cancellationToken, allowFailure: false);
    }

    /// <summary>Starts a stopped server again, on the same port and data (it recovers from its WAL first).</summary>
    public async Task StartAgainAsync(bool durable, CancellationToken cancellationToken = default)
    {
        await StartServerAsync(durable, cancellationToken);
        _stopped = false;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_ownsDataDirectory)
        {
            TryDeleteDirectory(DataDirectory);
        }
    }

    private static async Task InitializeAsync(string binDirectory, string dataDirectory, string? password, CancellationToken cancellationToken)
    {
        if (File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            return;
        }

        Directory.CreateDirectory(dataDirectory);
        await GiveToServerUserAsync(dataDirectory, cancellationToken);
        var arguments = new List<string> { "-D", dataDirectory, "-U", SuperUser, "-E", "UTF8", "--locale=C.UTF-8", "-N" };
        if (password is null)
        {
            arguments.Add("--auth=trust");
            await RunAsync(Path.Combine(binDirectory, "initdb"), arguments, cancellationToken);
            return;
        }

        // initdb takes the first password from a file only: in a directory the server user can
        // read and no one else (CreateTempSubdirectory makes it 0700).
        var passwordDirectory = Directory.CreateTempSubdirectory("s3storage-pg-init-");
        try
        {
            var passwordFile = Path.Combine(passwordDirectory.FullName, "password");
            await File.WriteAllTextAsync(passwordFile, password + "\n", cancellationToken);
            await GiveToServerUserAsync(passwordDirectory.FullName, cancellationToken);
            arguments.AddRange(["--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=" + passwordFile]);
            await RunAsync(Path.Combine(binDirectory, "initdb"), arguments, cancellationToken);
        }
        finally
        {
            TryDeleteDirectory(passwordDirectory.FullName);
        }
    }

    /// <summary>Over the Unix socket (trusted), so the password given now wins over the one the data directory was made with.</summary>
    private async Task SetPasswordAsync(CancellationToken cancellationToken)
    {
        if (_password is null)
        {
            return;
        }

        var socket = new NpgsqlConnectionStringBuilder { Host = DataDirectory, Port = Port, Username = SuperUser, Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(socket.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        // ALTER ROLE takes no parameters: a quoted literal it is.
        await using var command = new NpgsqlCommand($"ALTER ROLE {Quote(SuperUser)} PASSWORD '{_password.Replace("'", "''")}'", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task StartServerAsync(bool durable, CancellationToken cancellationToken)
    {
        // The Unix socket goes into the data directory, which the server user owns: /var/run/postgresql
        // may not exist or be writable, and a private socket cannot clash with another server.
        var settings = $"-p {Port} -k '{DataDirectory}' -c listen_addresses=127.0.0.1 -c max_connections=300";
        if (!durable)
        {
            settings += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off";
        }

        var result = await RunAsync(Tool("pg_ctl"),
            ["start", "-D", DataDirectory, "-l", LogFile, "-o", settings, "-w", "-t", "60"],
            cancellationToken, allowFailure: true);
        if (result.ExitCode != 0)
        {
            throw new PostgresStartException(
                $"PostgreSQL did not start on port {Port} (data {DataDirectory}): {result.Output.Trim()} {TailOfLog()}");
        }
    }

    private string TailOfLog()
    {
        try
        {
            return string.Join(Environment.NewLine, File.ReadLines(LogFile).TakeLast(10));
        }
        catch (IOException)
        {
            return "";
        }
    }

    private string Tool(string name) => Path.Combine(_binDirectory, name);

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    /// <summary>initdb refuses to run as root: as root, the server runs as the unprivileged <c>postgres</c> user.</summary>
    private static bool RunAsServerUser => Environment.IsPrivilegedProcess;

    private static async Task GiveToServerUserAsync(string directory, CancellationToken cancellationToken)
    {
        if (RunAsServerUser)
        {
            await RunAsync("chown", ["-R", $"{SuperUser}:{SuperUser}", directory], cancellationToken, asServerUser: false);
        }
    }

    private sealed record CommandResult(int ExitCode, string Output);

    private static async Task<CommandResult> RunAsync(
        string fileName,
        IReadOnlyList<string> arguments,
        CancellationToken cancellationToken,
        bool allowFailure = false,
        bool asServerUser = true)
    {
        var startInfo = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asServerUser && RunAsServerUser)
        {
            startInfo.FileName = "runuser";
            foreach (var argument in (string[])["-u", SuperUser, "--", fileName])
            {
                startInfo.ArgumentList.Add(argument);
            }
        }
        else
        {
            startInfo.FileName = fileName;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        // pg_ctl start leaves the server running with our pipes inherited unless its output is
        // redirected; it is (-l), so reading to the end returns once pg_ctl itself exits.
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout + await stderr;
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new PostgresStartException($"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} failed ({process.ExitCode}): {output.Trim()}");
        }

        return new CommandResult(process.ExitCode, output);
    }

    private static void TryDeleteDirectory(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

public sealed class PostgresStartException(string message) : Exception(message);
