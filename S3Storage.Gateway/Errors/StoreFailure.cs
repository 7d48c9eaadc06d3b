namespace S3Storage.Gateway.Errors;

/// <summary>
/// Every way a request to the store can fail, by what it means for the client. Each API maps
/// this set once to its own wire form (problem details for <c>/files</c>, error XML for S3).
/// </summary>
public enum StoreFailure
{
    /// <summary>The request cannot be carried out as sent: a malformed form, a missing filename, a bad id or query.</summary>
    InvalidRequest,

    /// <summary>An upload did not say its size before its bytes.</summary>
    LengthRequired,

    /// <summary>The file is larger than the store accepts.</summary>
    TooLarge,

    /// <summary>The client sent too slowly or stopped sending, and the upload was given up.</summary>
    UploadStalled,

    /// <summary>No file has the id asked for.</summary>
    FileNotFound,

    /// <summary>The file exists but its upload has not completed, so it cannot be read.</summary>
    FileNotComplete,

    /// <summary>The file is still being uploaded, so it cannot be deleted yet.</summary>
    UploadInProgress,

    /// <summary>The file is a blob of an S3 object or multipart upload, so it cannot be deleted on its own.</summary>
    FileInUse,

    /// <summary>Too few storage nodes answer to store the file with its copies, or to read a chunk: try again shortly.</summary>
    NodesUnavailable,

    /// <summary>The metadata database cannot be reached: try again shortly.</summary>
    DatabaseUnavailable,
}

/// <summary>A request failed for a reason in <see cref="StoreFailure"/>; <see cref="Exception.Message"/> is the detail a client reads.</summary>
public sealed class StoreException(StoreFailure failure, string title, string detail, Exception? inner = null) : Exception(detail, inner)
{
    public StoreFailure Failure { get; } = failure;

    /// <summary>A short summary that does not change from one occurrence to the next.</summary>
    public string Title { get; } = title;

    /// <summary>The failures worth another try after a short wait (503 with Retry-After on <c>/files</c>).</summary>
    public static bool IsTransient(StoreFailure failure) => failure is StoreFailure.NodesUnavailable or StoreFailure.DatabaseUnavailable;
}
