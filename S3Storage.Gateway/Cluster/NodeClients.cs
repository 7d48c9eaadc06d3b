using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using NodeClient = S3Storage.Contracts.Storage.StorageNode.StorageNodeClient;

namespace S3Storage.Gateway.Cluster;

/// <summary>
/// One gRPC channel per node address, reused by every call. Built by hand rather than through
/// HttpClientFactory so that no resilience handler (10 s timeouts, retries) wraps chunk
/// streams that run for minutes and cannot be replayed. Every call carries the cluster's
/// secret, without which a node refuses it.
/// </summary>
public sealed class NodeClients(IOptions<ClusterOptions> cluster) : IDisposable
{
    /// <summary>
    /// HTTP/2 receive window per stream: how much of a chunk a node may push before the gateway
    /// reads it, so it bounds what a download (the chunk being sent and the one prefetched)
    /// holds in memory. 2 MiB kept the 1 GiB download as fast as 16 MiB did and took the
    /// gateway's peak RSS from 255 to 205 MiB. Uploads are paced by the node's own window.
    /// </summary>
    public const int Http2WindowSize = 2 * 1024 * 1024;

    private readonly ConcurrentDictionary<string, (GrpcChannel Channel, CallInvoker Invoker)> _channels = new(StringComparer.Ordinal);

    public NodeClient For(NodeInfo node) => new(_channels.GetOrAdd(node.Address, Open).Invoker);

    public void Dispose()
    {
        foreach (var (channel, _) in _channels.Values)
        {
            channel.Dispose();
        }
    }

    private (GrpcChannel, CallInvoker) Open(string address)
    {
        var channel = Create(address);
        var secret = cluster.Value.Secret;
        return (channel, channel.Intercept(headers =>
        {
            headers.Add(ClusterOptions.HeaderName, secret);
            return headers;
        }));
    }

    private static GrpcChannel Create(string address) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                InitialHttp2StreamWindowSize = Http2WindowSize,
                // Parallel chunk streams to one node would otherwise share one connection's window.
                EnableMultipleHttp2Connections = true,
                ConnectTimeout = TimeSpan.FromSeconds(5),
                KeepAlivePingDelay = TimeSpan.FromSeconds(20),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            },
            MaxReceiveMessageSize = 4 * 1024 * 1024,
            MaxSendMessageSize = 4 * 1024 * 1024,
        });
}
