using System.Globalization;
using System.Runtime.InteropServices;
using S3Storage.DevCluster;
using S3Storage.DevCluster.Postgres;

// The dev cluster: PostgreSQL, the storage nodes and the gateway as local processes, wired
// exactly as the AppHost wires them. Runs until Ctrl+C or SIGTERM, then stops what it started
// and keeps the data directory for the next run. `postgres` runs only the database (PostgresCommand).
const string Usage = "usage: dotnet run --project eng/DevCluster -- [--port 8080] [--data DIR] [--nodes 6] [--replication 2] | new-key";

using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stopping.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stopping.Cancel();
});

if (args is ["postgres", .. var postgresArgs])
{
    return await PostgresCommand.RunAsync(postgresArgs, stopping.Token);
}

// A fresh access key token, e.g. the admin key a deployment asks for (Access__AdminKey).
if (args is ["new-key"])
{
    Console.WriteLine(S3Storage.Contracts.Access.AccessKeyToken.Generate().Value);
    return 0;
}

var settings = new ClusterSettings(Path.Combine(Directory.GetCurrentDirectory(), ".devcluster"));
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    int Number(int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new ArgumentException($"{args[i]} needs a whole number from {min} to {max}, not '{value}'.");

    try
    {
        switch (args[i])
        {
            case "--port":
                settings = settings with { GatewayPort = Number(1, 65535) };
                i++;
                break;
            case "--data" when value is not null:
                settings = settings with { DataDirectory = Path.GetFullPath(value) };
                i++;
                break;
            case "--nodes":
                settings = settings with { Nodes = Number(1, 64) };
                i++;
                break;
            case "--replication":
                settings = settings with { ReplicationFactor = Number(1, 16) };
                i++;
                break;
            case "-h" or "--help":
                Console.WriteLine(Usage);
                return 0;
            default:
                throw new ArgumentException($"unknown or incomplete option '{args[i]}'.");
        }
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine($"error: {e.Message} {Usage}");
        return 2;
    }
}

LocalCluster cluster;
try
{
    cluster = await LocalCluster.StartAsync(settings, stopping.Token);
}
catch (ClusterStartException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
catch (OperationCanceledException)
{
    return 130;
}
catch (Exception e) when (e is TimeoutException or InvalidOperationException or FileNotFoundException)
{
    Console.Error.WriteLine($"error: {e.Message.Split(Environment.NewLine)[0]} (logs: {Path.Combine(settings.DataDirectory, "logs")})");
    return 1;
}

await using (cluster)
{
    Console.WriteLine($"gateway {cluster.Gateway.Address.ToString().TrimEnd('/')}");
    Console.WriteLine($"postgres {cluster.MetadataConnectionString}");
    // The key to use the cluster with (README: export S3STORAGE_KEY=...); kept in <data>/admin-key.
    Console.WriteLine($"admin-key {cluster.AdminKey}");
    // The same key for S3 tools: `export` these two lines, then aws --endpoint-url <gateway> s3 ls.
    if (S3Storage.Contracts.Access.AccessKeyToken.TryParse(cluster.AdminKey, out var s3Key))
    {
        Console.WriteLine($"s3-endpoint {cluster.Gateway.Address.ToString().TrimEnd('/')}");
        Console.WriteLine($"AWS_ACCESS_KEY_ID={s3Key.AccessKeyId}");
        Console.WriteLine($"AWS_SECRET_ACCESS_KEY={s3Key.Secret}");
    }

    foreach (var node in cluster.Nodes)
    {
        Console.WriteLine($"{node.Name} {node.Address.ToString().TrimEnd('/')} pid {node.Process.Id} data {node.DataDirectory}");
    }

    Console.WriteLine("ready");
    try
    {
        await Task.Delay(Timeout.Infinite, stopping.Token);
    }
    catch (OperationCanceledException)
    {
    }

    Console.WriteLine("stopping");
}

return 0;
