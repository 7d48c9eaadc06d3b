using Microsoft.Net.Http.Headers;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.Uploads;

namespace S3Storage.Gateway.Apis;

/// <summary>How a <c>POST /files</c> request carries its file: a multipart form (field <c>file</c>) or a raw body named by <c>?filename=</c>.</summary>
public static class UploadRequests
{
    /// <summary>Reads the request up to the first byte of the file; refuses one that cannot be stored (400, 411, 413) before that.</summary>
    public static async Task<UploadSource> OpenSourceAsync(HttpRequest request, long maxFileSize, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.ContentType))
        {
            throw new StoreException(StoreFailure.InvalidRequest, "Content-Type is required",
                "Send the file as multipart/form-data (field 'file') or as a raw body with its own Content-Type and ?filename=.");
        }

        if (request.ContentLength is not { } contentLength)
        {
            throw new StoreException(StoreFailure.LengthRequired, "Content-Length is required",
                "The file's size must be known before it is cut into chunks: send a Content-Length (curl -T or --data-binary do), not a chunked body.");
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType))
        {
            throw new StoreException(StoreFailure.InvalidRequest, "Content-Type is malformed", $"'{request.ContentType}' is not a media type.");
        }

        if (mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
            return await MultipartFileSource.OpenAsync(request.BodyReader, boundary, contentLength, maxFileSize, cancellationToken);
        }

        return new RawBodySource(request.BodyReader, request.Query["filename"].ToString(), mediaType.ToString(), contentLength, maxFileSize);
    }
}
