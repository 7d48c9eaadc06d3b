using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;
using Polly.Retry;

namespace S3Storage.Gateway.Cluster;

/// <summary>
/// Calls to one storage node that are worth repeating before another node is tried (opening a
/// chunk stream, copying a chunk): a Polly retry pipeline of <c>Uploads:NodeAttempts</c>
/// attempts with exponential back-off from <c>Uploads:RetryDelay</c>, retrying only what
/// <see cref="NodeFaults"/> calls a node failure.
/// </summary>
public sealed partial class NodeCalls(ResiliencePipelineProvider<string> pipelines)
{
    public const string PipelineName = "s3storage-node-call";

    private static readonly ResiliencePropertyKey<string> NodeName = new("s3storage.node");

    private readonly ResiliencePipeline _pipeline = pipelines.GetPipeline(PipelineName);

    /// <summary>Runs <paramref name="call"/> against <paramref name="node"/>, retried; the last failure is thrown.</summary>
    public async Task<T> RunAsync<T>(NodeInfo node, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(NodeName, node.Name);
        try
        {
            return await _pipeline.ExecuteAsync(static async (context, call) => await call(context.CancellationToken), context, call);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    public static void AddPipeline(IServiceCollection services) =>
        services.AddResiliencePipeline(PipelineName, (pipeline, context) =>
        {
            var options = context.ServiceProvider.GetRequiredService<IOptions<UploadOptions>>().Value;
            if (options.NodeAttempts <= 1)
            {
                return;
            }

            var logger = context.ServiceProvider.GetRequiredService<ILogger<NodeCalls>>();
            pipeline.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.NodeAttempts - 1,
                Delay = options.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = false,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && NodeFaults.IsNodeFailure(e, args.Context.CancellationToken)),
                OnRetry = args =>
                {
                    LogRetrying(logger, args.Outcome.Exception!, args.Context.Properties.GetValue(NodeName, "?"), args.AttemptNumber + 1, options.NodeAttempts, args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            });
        });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Call to {Node} failed (attempt {Attempt} of {Attempts}); trying it again in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, Exception exception, string node, int attempt, int attempts, double delayMs);
}
