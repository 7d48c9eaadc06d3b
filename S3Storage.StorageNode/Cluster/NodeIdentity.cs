using Microsoft.Extensions.Options;

namespace S3Storage.StorageNode.Cluster;

/// <summary>
/// Who this node is: a server id kept in its data directory, so a restarted node keeps its id
/// and with it its ring points. Holds an exclusive lock on the data directory for the life of
/// the process: two nodes on one directory would corrupt each other.
/// </summary>
public sealed class NodeIdentity : IDisposable
{
    public const string ServerIdFileName = "server-id";
    private const string LockFileName = ".lock";

    private readonly FileStream _lock;

    public NodeIdentity(IOptions<NodeOptions> options)
    {
        var dataDirectory = Path.GetFullPath(options.Value.DataDir);
        Directory.CreateDirectory(dataDirectory);
        try
        {
            // FileShare.None takes an advisory lock (flock) on Unix.
            _lock = new FileStream(Path.Combine(dataDirectory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"Node:DataDir {dataDirectory} is in use by another storage node process.", e);
        }

        ServerId = LoadOrCreate(Path.Combine(dataDirectory, ServerIdFileName));
        StartedAt = DateTimeOffset.UtcNow;
    }

    public Guid ServerId { get; }

    public DateTimeOffset StartedAt { get; }

    public void Dispose() => _lock.Dispose();

    private static Guid LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path).Trim();
            return Guid.TryParseExact(text, "D", out var existing)
                ? existing
                : throw new InvalidOperationException($"{path} holds '{text}', not a server id; restore it or remove the data directory.");
        }

        var created = Guid.NewGuid();
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(System.Text.Encoding.ASCII.GetBytes(created.ToString("D")));
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: false);
        Chunks.DirectorySync.Flush(Path.GetDirectoryName(path)!);
        return created;
    }
}
