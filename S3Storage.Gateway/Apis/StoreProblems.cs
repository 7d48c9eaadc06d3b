using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using S3Storage.Gateway.Errors;

namespace S3Storage.Gateway.Apis;

/// <summary>The one mapping of <see cref="StoreFailure"/> to HTTP problem details for <c>/files</c> and <c>/admin</c>.</summary>
public static class StoreProblems
{
    public static int StatusCode(StoreFailure failure) => failure switch
    {
        StoreFailure.InvalidRequest => StatusCodes.Status400BadRequest,
        StoreFailure.LengthRequired => StatusCodes.Status411LengthRequired,
        StoreFailure.TooLarge => StatusCodes.Status413PayloadTooLarge,
        StoreFailure.UploadStalled => StatusCodes.Status408RequestTimeout,
        StoreFailure.FileNotFound => StatusCodes.Status404NotFound,
        StoreFailure.FileNotComplete or StoreFailure.UploadInProgress or StoreFailure.FileInUse => StatusCodes.Status409Conflict,
        StoreFailure.NodesUnavailable or StoreFailure.DatabaseUnavailable => StatusCodes.Status503ServiceUnavailable,
        _ => throw new ArgumentOutOfRangeException(nameof(failure), failure, "Every failure needs a status code."),
    };

    /// <summary>A problem an endpoint answers itself (never a transient one: those carry Retry-After and go through the exception handler).</summary>
    public static ProblemHttpResult Result(StoreFailure failure, string title, string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCode(failure), title: title);

    /// <summary>What an exception means to the client, or null for one the store did not expect (a 500).</summary>
    public static StoreException? Classify(Exception exception) => exception switch
    {
        StoreException known => known,
        // Kestrel's own verdicts on the body: too slow, too large, cut short.
        BadHttpRequestException bad => new StoreException(
            bad.StatusCode switch
            {
                StatusCodes.Status408RequestTimeout => StoreFailure.UploadStalled,
                StatusCodes.Status413PayloadTooLarge => StoreFailure.TooLarge,
                _ => StoreFailure.InvalidRequest,
            },
            "The request body could not be read",
            bad.Message,
            bad),
        _ when DatabaseFaults.IsUnavailable(exception) => DatabaseFaults.Unavailable(exception),
        _ => null,
    };
}

/// <summary>
/// Turns every <see cref="StoreException"/> (and the faults <see cref="StoreProblems.Classify"/>
/// recognises) that an endpoint lets through into its problem response; a transient one gets
/// <c>Retry-After</c>. A client that has gone away gets nothing: nobody is there to read it.
/// </summary>
public sealed partial class StoreExceptionHandler(IProblemDetailsService problemDetails, ILogger<StoreExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        if (httpContext.RequestAborted.IsCancellationRequested)
        {
            return true;
        }

        if (StoreProblems.Classify(exception) is not { } failure)
        {
            return false;
        }

        var status = StoreProblems.StatusCode(failure.Failure);
        var detail = failure.Message;
        if (StoreException.IsTransient(failure.Failure))
        {
            LogTransient(logger, exception, httpContext.Request.Method, httpContext.Request.Path, status, failure.Title);
            RetryAfter.Set(httpContext.Response);
            detail = $"{detail} Retry after {RetryAfter.Seconds} s.";
        }
        else
        {
            LogRefused(logger, exception, httpContext.Request.Method, httpContext.Request.Path, status, failure.Title);
        }

        httpContext.Response.StatusCode = status;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = failure.Title, Detail = detail },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered {Status}: {Title}")]
    private static partial void LogTransient(ILogger logger, Exception exception, string method, string path, int status, string title);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} {Path} answered {Status}: {Title}")]
    private static partial void LogRefused(ILogger logger, Exception exception, string method, string path, int status, string title);
}
