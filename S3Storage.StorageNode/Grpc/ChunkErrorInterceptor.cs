using System.Diagnostics;
using global::Grpc.Core;
using global::Grpc.Core.Interceptors;
using S3Storage.StorageNode.Chunks;
using S3Storage.StorageNode.Telemetry;

namespace S3Storage.StorageNode.Grpc;

/// <summary>
/// The one place chunk errors become gRPC statuses. Also counts the call for graceful
/// shutdown and records its duration and outcome.
/// </summary>
public sealed partial class ChunkErrorInterceptor(InFlightCalls inFlight, NodeMetrics metrics, ILogger<ChunkErrorInterceptor> logger) : Interceptor
{
    public static StatusCode StatusFor(ChunkError error) => error switch
    {
        ChunkError.InvalidArgument => StatusCode.InvalidArgument,
        ChunkError.NotFound => StatusCode.NotFound,
        ChunkError.OutOfRange => StatusCode.OutOfRange,
        ChunkError.DataLoss => StatusCode.DataLoss,
        ChunkError.Conflict => StatusCode.AlreadyExists,
        ChunkError.DiskFull => StatusCode.ResourceExhausted,
        ChunkError.Draining => StatusCode.Unavailable,
        ChunkError.Cancelled => StatusCode.Cancelled,
        ChunkError.IoError => StatusCode.Internal,
        _ => StatusCode.Unknown,
    };

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        GuardAsync(context, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        GuardAsync(context, () => continuation(requestStream, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        GuardAsync(context, async () =>
        {
            await continuation(request, responseStream, context);
            return true;
        });

    private async Task<T> GuardAsync<T>(ServerCallContext context, Func<Task<T>> call)
    {
        using var _ = inFlight.Begin();
        var operation = context.Method[(context.Method.LastIndexOf('/') + 1)..];
        var started = Stopwatch.GetTimestamp();
        var outcome = StatusCode.OK;
        try
        {
            return await call();
        }
        catch (ChunkStoreException e)
        {
            outcome = StatusFor(e.Error);
            LogRefused(logger, operation, outcome, e.Message);
            throw new RpcException(new Status(outcome, e.Message));
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            outcome = StatusCode.Cancelled;
            LogCancelled(logger, operation);
            throw new RpcException(new Status(StatusCode.Cancelled, "The caller went away; nothing was kept."));
        }
        catch (IOException) when (context.CancellationToken.IsCancellationRequested)
        {
            // Reading from a reset stream surfaces as an IOException once the call is aborted.
            outcome = StatusCode.Cancelled;
            LogCancelled(logger, operation);
            throw new RpcException(new Status(StatusCode.Cancelled, "The caller went away; nothing was kept."));
        }
        catch (RpcException e)
        {
            outcome = e.StatusCode;
            throw;
        }
        finally
        {
            metrics.Operation(operation, outcome.ToString(), Stopwatch.GetElapsedTime(started));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Operation} refused with {Status}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string operation, StatusCode status, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Operation} cancelled by the caller")]
    private static partial void LogCancelled(ILogger logger, string operation);
}
