using System.Diagnostics;
using System.Net.Sockets;
using S3Storage.DevCluster.Processes;

namespace S3Storage.Bench;

/// <summary>
/// The baseline: nginx serving a directory on loopback, with WebDAV PUT for uploads, started
/// with its own configuration and temporary directories (installed from Debian when missing).
/// </summary>
public sealed class Nginx : IAsyncDisposable
{
    private readonly Process _process;

    private Nginx(Process process, string root, int port)
    {
        _process = process;
        Root = root;
        Address = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri Address { get; }

    /// <summary>The master process; its worker is its child.</summary>
    public int ProcessId => _process.Id;

    public string Root { get; }

    public static async Task<Nginx> StartAsync(string workDirectory, CancellationToken cancellationToken)
    {
        var binary = await EnsureInstalledAsync(cancellationToken);
        var root = Path.Combine(workDirectory, "nginx");
        var data = Path.Combine(root, "www", "data");
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(Path.Combine(root, "body"));
        var port = ServiceProcess.FreeLoopbackPort();
        var config = Path.Combine(root, "nginx.conf");
        // Root, so no worker needs permissions on the benchmark's directories; loopback only.
        await File.WriteAllTextAsync(config, $$"""
            user root;
            worker_processes 1;
            daemon off;
            pid {{root}}/nginx.pid;
            error_log {{root}}/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                sendfile on;
                tcp_nopush on;
                keepalive_requests 100000;
                client_max_body_size 0;
                client_body_buffer_size 1m;
                client_body_temp_path {{root}}/body;
                proxy_temp_path {{root}}/body;
                fastcgi_temp_path {{root}}/body;
                uwsgi_temp_path {{root}}/body;
                scgi_temp_path {{root}}/body;
                server {
                    listen 127.0.0.1:{{port}};
                    root {{root}}/www;
                    location /data/ {
                        dav_methods PUT DELETE;
                        create_full_put_path on;
                    }
                }
            }
            """, cancellationToken);

        var process = Process.Start(new ProcessStartInfo(binary, $"-c {config} -p {root}") { UseShellExecute = false })
            ?? throw new InvalidOperationException("nginx did not start.");
        var nginx = new Nginx(process, data, port);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port, cancellationToken);
                return nginx;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            PosixSignals.Send(_process.Id, PosixSignals.Term);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private static async Task<string> EnsureInstalledAsync(CancellationToken cancellationToken)
    {
        const string binary = "/usr/sbin/nginx";
        if (File.Exists(binary))
        {
            return binary;
        }

        Console.WriteLine("nginx not found: installing Debian's nginx (the baseline)");
        foreach (var arguments in new[] { "update -qq", "install -y -qq nginx" })
        {
            using var apt = Process.Start(new ProcessStartInfo("apt-get", arguments) { UseShellExecute = false })!;
            await apt.WaitForExitAsync(cancellationToken);
        }

        return File.Exists(binary) ? binary : throw new InvalidOperationException("nginx could not be installed: apt-get install -y nginx");
    }
}
