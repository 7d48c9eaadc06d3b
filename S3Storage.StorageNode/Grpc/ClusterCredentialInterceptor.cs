using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;

namespace S3Storage.StorageNode.Grpc;

/// <summary>
/// Refuses every chunk call that does not carry the cluster's secret: only the gateway (and a
/// fellow process of the cluster) may read, write or delete chunks. Applied to the chunk
/// service only, so the grpc.health.v1 probe stays open.
/// </summary>
public sealed partial class ClusterCredentialInterceptor(IOptions<ClusterOptions> options, ILogger<ClusterCredentialInterceptor> logger) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Demand(context);
        return continuation(request, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Demand(context);
        return continuation(requestStream, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Demand(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Demand(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Demand(ServerCallContext context)
    {
        var presented = context.RequestHeaders.GetValue(ClusterOptions.HeaderName);
        if (options.Value.Matches(presented))
        {
            return;
        }

        LogRefused(logger, context.Method, context.Peer, presented is null ? "no cluster credential" : "a wrong cluster credential");
        throw new RpcException(new Status(
            StatusCode.Unauthenticated,
            $"This storage node accepts calls only from its cluster: the call carried {(presented is null ? "no" : "a wrong")} {ClusterOptions.HeaderName} entry."));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Method} from {Peer}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string method, string peer, string reason);
}
