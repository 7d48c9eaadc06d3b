using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Access;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Access;
using S3Storage.Gateway.Downloads;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.Files;
using S3Storage.Gateway.Uploads;

namespace S3Storage.Gateway.Apis;

/// <summary>The <c>/files</c> resource.</summary>
public static class FilesApi
{
    public const int DefaultPerPage = 20;
    public const int MaxPerPage = 1000;

    public static IEndpointRouteBuilder MapFilesApi(this IEndpointRouteBuilder app)
    {
        var files = app.MapGroup("/files").WithTags("Files").RequireAuthorization(AccessPolicies.Read);

        files.MapPost("/", UploadFile)
            .RequireAuthorization(AccessPolicies.Write)
            .RequireRateLimiting(RequestLimits.Uploads)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status408RequestTimeout)
            .ProducesProblem(StatusCodes.Status411LengthRequired)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithName("UploadFile")
            .WithSummary("Stores a file sent as multipart/form-data (field 'file') or as a raw body with ?filename=.");
        files.MapMethods("/{id}", [HttpMethods.Get, HttpMethods.Head], DownloadFile)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .Produces(StatusCodes.Status304NotModified)
            .Produces(StatusCodes.Status412PreconditionFailed)
            .Produces(StatusCodes.Status416RangeNotSatisfiable)
            .WithName("DownloadFile")
            .WithSummary("Streams a stored file; a single Range gives 206; If-None-Match and If-Modified-Since give 304, If-Match and If-Unmodified-Since 412; HEAD gives the headers only.");
        files.MapGet("/{id}/metadata", GetMetadata)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName("GetFileMetadata")
            .WithSummary("Status, upload progress, chunks and where their copies are.");
        files.MapGet("/", ListFiles)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithName("ListFiles")
            .WithSummary("Files, newest first: ?per_page=20&status=completed, then ?cursor=<next_cursor> for the next page (or ?page=N); ?total=exact counts past 1000.");
        files.MapDelete("/{id}", DeleteFile)
            .RequireAuthorization(AccessPolicies.Write)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithName("DeleteFile")
            .WithSummary("Deletes a file and its chunks.");
        return app;
    }

    public static async Task<Created<FileCreated>> UploadFile(HttpContext context, FileUploader uploader, IOptions<StorageOptions> storage)
    {
        var cancellationToken = context.RequestAborted;
        var source = await UploadRequests.OpenSourceAsync(context.Request, storage.Value.MaxFileSize, cancellationToken);
        var caller = new UploadCaller(context.User.FindFirstValue(ClaimTypes.NameIdentifier), context.Connection.RemoteIpAddress);
        var file = await uploader.UploadAsync(source, caller, cancellationToken);
        var location = $"/files/{file.FileId}";
        return TypedResults.Created(location, new FileCreated(file.FileId, file.Filename, file.ContentType, file.Size, file.Sha256, file.ChunkCount, location));
    }

    public static async Task<Results<StoredFileResult, ProblemHttpResult>> DownloadFile(string id, ClaimsPrincipal user, FileCatalog catalog, ReplicaReaderServices readers, ILogger<StoredFileResult> logger, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } fileId)
        {
            return BadId(id);
        }

        var file = await catalog.FindAsync(fileId, IsAdmin(user), cancellationToken);
        if (file is null)
        {
            return NotFound(fileId);
        }

        if (file.UploadStatus != UploadStatus.Completed)
        {
            return StoreProblems.Result(
                StoreFailure.FileNotComplete,
                "The file is not complete",
                $"File {fileId} is {FileCatalog.Name(file.UploadStatus)}; only completed files can be read.");
        }

        return new StoredFileResult(file, new StoredFileStream(catalog.ReadPlan(file), readers), readers.Metrics, logger);
    }

    public static async Task<Results<Ok<FileMetadata>, ProblemHttpResult>> GetMetadata(string id, ClaimsPrincipal user, FileCatalog catalog, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } fileId)
        {
            return BadId(id);
        }

        var file = await catalog.FindAsync(fileId, IsAdmin(user), cancellationToken);
        return file is null ? NotFound(fileId) : TypedResults.Ok(await catalog.DescribeAsync(file, cancellationToken));
    }

    public static async Task<Results<Ok<FileList>, ProblemHttpResult>> ListFiles(
        ClaimsPrincipal user,
        FileListing listing,
        CancellationToken cancellationToken,
        string? page = null,
        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "per_page")] string? perPage = null,
        string? status = null,
        string? cursor = null,
        string? total = null)
    {
        if (!TryParseBounded(page, 1, 1, int.MaxValue, out var pageNumber))
        {
            return Invalid("page", page, "a whole number from 1");
        }

        FileListCursor? from = null;
        if (cursor is not null)
        {
            if (page is not null)
            {
                return Invalid("cursor", cursor, "either a cursor or a page, not both");
            }

            if (!FileListCursor.TryDecode(cursor, out var decoded))
            {
                return Invalid("cursor", cursor, "the next_cursor of an earlier page");
            }

            from = decoded;
        }

        if (total is not (null or "exact" or "estimate"))
        {
            return Invalid("total", total, "exact or estimate");
        }

        if (!TryParseBounded(perPage, DefaultPerPage, 1, MaxPerPage, out var pageSize))
        {
            return Invalid("per_page", perPage, $"a whole number from 1 to {MaxPerPage}");
        }

        UploadStatus? wanted = null;
        if (!string.IsNullOrEmpty(status))
        {
            if (!Enum.TryParse<UploadStatus>(status, ignoreCase: true, out var parsed) || int.TryParse(status, out _))
            {
                return Invalid("status", status, "one of pending, uploading, completed, failed");
            }

            wanted = parsed;
        }

        return TypedResults.Ok(await listing.ListAsync(new FileListQuery(from is null ? pageNumber : null, from, pageSize, wanted, total == "exact", IsAdmin(user)), cancellationToken));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteFile(string id, ClaimsPrincipal user, FileDeleter deleter, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } fileId)
        {
            return BadId(id);
        }

        return await deleter.DeleteAsync(fileId, cancellationToken) switch
        {
            DeleteOutcome.Deleted => TypedResults.NoContent(),
            DeleteOutcome.UploadInProgress => StoreProblems.Result(
                StoreFailure.UploadInProgress,
                "The upload is in progress",
                $"File {fileId} is still being uploaded; delete it once the upload has finished or failed."),
            // Whether another tenant's object exists is not for a non-admin key to learn.
            DeleteOutcome.InUse when !IsAdmin(user) => NotFound(fileId),
            DeleteOutcome.InUse => StoreProblems.Result(
                StoreFailure.FileInUse,
                "The file belongs to an S3 object",
                $"File {fileId} is a blob of an S3 object or multipart upload; delete it through the S3 API."),
            _ => NotFound(fileId),
        };
    }

    private static bool IsAdmin(ClaimsPrincipal user) => user.IsInRole(AccessRoles.Admin);

    private static Guid? ParseId(string id) => Guid.TryParse(id, out var fileId) ? fileId : null;

    private static ProblemHttpResult BadId(string id) =>
        StoreProblems.Result(StoreFailure.InvalidRequest, "Invalid file id", $"'{id}' is not a file id: file ids are UUIDs, as returned by POST /files.");

    private static ProblemHttpResult NotFound(Guid fileId) =>
        StoreProblems.Result(StoreFailure.FileNotFound, "File not found", $"No file has the id {fileId}.");

    private static ProblemHttpResult Invalid(string parameter, string? value, string expected) =>
        StoreProblems.Result(StoreFailure.InvalidRequest, $"Invalid {parameter}", $"'{value}' is not a valid {parameter}: expected {expected}.");

    private static bool TryParseBounded(string? text, int fallback, int min, int max, out int value)
    {
        if (string.IsNullOrEmpty(text))
        {
            value = fallback;
            return true;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
    }
}
