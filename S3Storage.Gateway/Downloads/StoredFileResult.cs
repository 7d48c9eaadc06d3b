using Microsoft.Net.Http.Headers;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Downloads;

/// <summary>
/// A stored file as an HTTP response: GET streams it (whole, or one byte range as 206), HEAD
/// sends only the headers. Headers: Content-Type, Content-Length, Content-Disposition,
/// ETag (the SHA-256), Accept-Ranges, Last-Modified.
/// </summary>
public sealed partial class StoredFileResult(StoredFile file, IReadOnlyList<ChunkSlice> allChunks) : IResult
{
    public async Task ExecuteAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var etag = new EntityTagHeaderValue($"\"{file.Checksum}\"");
        response.Headers.ETag = etag.ToString();
        response.Headers.AcceptRanges = "bytes";
        response.Headers.LastModified = HeaderUtilities.FormatDate(file.CompletedAt ?? file.UpdatedAt);
        var disposition = new ContentDispositionHeaderValue("attachment");
        disposition.SetHttpFileName(file.Filename);
        response.Headers.ContentDisposition = disposition.ToString();

        if (request.GetTypedHeaders().IfNoneMatch is { Count: > 0 } ifNoneMatch && ifNoneMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(etag, useStrongComparison: false)))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        var (start, length) = (0L, file.TotalSize);
        if (RequestedRange(request) is { } range)
        {
            if (range.From is not { } from)
            {
                // bytes=-n: the last n bytes.
                start = Math.Max(0, file.TotalSize - range.To!.Value);
                length = file.TotalSize - start;
            }
            else
            {
                start = from;
                length = Math.Min(range.To ?? long.MaxValue, file.TotalSize - 1) - from + 1;
            }

            if (start >= file.TotalSize || length <= 0)
            {
                response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                response.Headers.ContentRange = new ContentRangeHeaderValue(file.TotalSize).ToString();
                return;
            }

            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = new ContentRangeHeaderValue(start, start + length - 1, file.TotalSize).ToString();
        }

        var slices = Slice(start, length);
        var streamer = context.RequestServices.GetRequiredService<ChunkStreamer>();
        var metrics = context.RequestServices.GetRequiredService<GatewayMetrics>();
        var logger = context.RequestServices.GetRequiredService<ILogger<StoredFileResult>>();
        var isHead = HttpMethods.IsHead(request.Method);
        ChunkStreamer.SliceReader? first = null;
        if (!isHead)
        {
            try
            {
                // Find a readable replica of the first bytes before promising a 200.
                first = await streamer.OpenFirstAsync(slices, context.RequestAborted);
            }
            catch (ReplicasExhaustedException e)
            {
                metrics.Error("download", "replicas_exhausted");
                response.Headers.Remove(HeaderNames.ContentRange);
                Apis.RetryAfter.Set(response);
                await Results.Problem(e.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "The file cannot be read right now").ExecuteAsync(context);
                return;
            }
        }

        response.ContentType = file.ContentType;
        response.ContentLength = length;
        if (isHead)
        {
            return;
        }

        using var _ = metrics.TrackDownload();
        try
        {
            await response.StartAsync(context.RequestAborted);
            await streamer.StreamAsync(slices, first, response.Body, context.RequestAborted);
        }
        catch (ReplicasExhaustedException e)
        {
            // Headers are gone already: cut the connection so the client sees a failed
            // transfer, never a short or wrong file that looks complete.
            metrics.Error("download", "replicas_exhausted");
            LogAborted(logger, e, file.FileId);
            context.Abort();
        }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested || e is ChunkStreamer.ClientWriteException)
        {
            metrics.Error("download", "client_disconnected");
        }
    }

    /// <summary>A single byte range; several ranges are answered with the whole file (RFC 9110 allows it).</summary>
    private static RangeItemHeaderValue? RequestedRange(HttpRequest request)
    {
        var header = request.GetTypedHeaders().Range;
        return header is { Unit.Value: "bytes", Ranges.Count: 1 } ? header.Ranges.Single() : null;
    }

    private List<ChunkSlice> Slice(long start, long length)
    {
        var end = start + length;
        var slices = new List<ChunkSlice>();
        long chunkStart = 0;
        foreach (var chunk in allChunks)
        {
            var chunkEnd = chunkStart + chunk.ChunkSize;
            var from = Math.Max(start, chunkStart);
            var to = Math.Min(end, chunkEnd);
            if (from < to)
            {
                slices.Add(chunk with { Offset = from - chunkStart, Length = to - from });
            }

            chunkStart = chunkEnd;
        }

        return slices;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Download of {FileId} aborted mid-stream")]
    private static partial void LogAborted(ILogger logger, Exception exception, Guid fileId);
}
