using S3Storage.DevCluster.Postgres;

// The dev cluster, first step: a PostgreSQL server with the `metadata` database, started from
// the machine's own binaries. The storage nodes and the gateway join it in later issues.
var dataDirectory = "";
var postgresPort = 0;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data" when i + 1 < args.Length:
            dataDirectory = args[++i];
            break;
        case "--postgres-port" when i + 1 < args.Length && int.TryParse(args[i + 1], out var port) && port is > 0 and < 65536:
            postgresPort = port;
            i++;
            break;
        case "-h" or "--help":
            Console.WriteLine("usage: dotnet run --project eng/DevCluster -- [--data DIR] [--postgres-port PORT]");
            return 0;
        default:
            Console.Error.WriteLine($"error: unknown or incomplete option '{args[i]}' (try --help)");
            return 2;
    }
}

using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stopping.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
    System.Runtime.InteropServices.PosixSignal.SIGTERM,
    context =>
    {
        context.Cancel = true;
        stopping.Cancel();
    });

LocalPostgresServer postgres;
try
{
    var options = new LocalPostgresOptions
    {
        // Kept between runs so a second run on the same --data finds its metadata again.
        DataDirectory = Path.Combine(string.IsNullOrEmpty(dataDirectory) ? Path.Combine(Directory.GetCurrentDirectory(), ".devcluster") : dataDirectory, "postgres"),
        Port = postgresPort,
    };
    postgres = await LocalPostgresServer.StartAsync(options, stopping.Token);
}
catch (Exception e) when (e is PostgresNotInstalledException or PostgresStartException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

await using (postgres)
{
    if (!await postgres.DatabaseExistsAsync("metadata", stopping.Token))
    {
        await postgres.CreateDatabaseAsync("metadata", cancellationToken: stopping.Token);
    }

    Console.WriteLine($"postgres {postgres.ConnectionString("metadata")}");
    Console.WriteLine("ready");
    try
    {
        await Task.Delay(Timeout.Infinite, stopping.Token);
    }
    catch (OperationCanceledException)
    {
    }
}

return 0;
