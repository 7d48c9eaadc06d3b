using Microsoft.Net.Http.Headers;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Downloads;

/// <summary>
/// A stored file as an HTTP response, through ASP.NET Core's stream result over a
/// <see cref="StoredFileStream"/>: it answers Range (206, 416), If-Match, If-None-Match,
/// If-Modified-Since, If-Unmodified-Since (304, 412) and If-Range, and HEAD with headers only.
/// The ETag is the file's SHA-256. This wrapper handles what happens once bytes are flowing.
/// </summary>
public sealed partial class StoredFileResult(StoredFile file, StoredFileStream content, GatewayMetrics metrics, ILogger<StoredFileResult> logger) : IResult
{
    public async Task ExecuteAsync(HttpContext context)
    {
        var result = TypedResults.Stream(
            content,
            file.ContentType,
            fileDownloadName: file.Filename,
            lastModified: file.CompletedAt ?? file.UpdatedAt,
            entityTag: new EntityTagHeaderValue($"\"{file.Checksum}\""),
            enableRangeProcessing: true);
        using var _ = HttpMethods.IsHead(context.Request.Method) ? null : metrics.TrackDownload();
        try
        {
            await result.ExecuteAsync(context);
        }
        catch (StoreException e) when (context.Response.HasStarted)
        {
            // Headers are gone already: cut the connection so the client sees a failed
            // transfer, never a short or wrong file that looks complete.
            metrics.Error("download", "replicas_exhausted");
            LogAborted(logger, e, file.FileId);
            context.Abort();
        }
        catch (StoreException)
        {
            // Nothing sent yet: the exception handler answers with the failure (503, Retry-After).
            metrics.Error("download", "replicas_exhausted");
            throw;
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            metrics.Error("download", "client_disconnected");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Download of {FileId} aborted mid-stream")]
    private static partial void LogAborted(ILogger logger, Exception exception, Guid fileId);
}
