using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace S3Storage.Gateway.Apis;

/// <summary>
/// A request that failed because PostgreSQL could not be reached (after the execution
/// strategy's bounded retries) answers 503 with <c>Retry-After</c> and problem details, not
/// 500: the request was fine, the store is briefly unable to serve it. <c>/health</c> says
/// the database is down meanwhile.
/// </summary>
public sealed partial class DatabaseUnavailableHandler(IProblemDetailsService problemDetails, ILogger<DatabaseUnavailableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsDatabaseUnavailable(exception) || httpContext.Response.HasStarted)
        {
            return false;
        }

        LogUnavailable(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        RetryAfter.Set(httpContext.Response);
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The metadata database is unavailable",
                Detail = $"The store cannot reach its metadata database just now. Retry after {RetryAfter.Seconds} s.",
            },
        });
    }

    /// <summary>A connection that failed, was cut or timed out, anywhere in the chain (EF wraps it in its own exceptions).</summary>
    public static bool IsDatabaseUnavailable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is NpgsqlException { IsTransient: true } or TimeoutException)
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: the metadata database is unavailable")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, string method, string path);
}
