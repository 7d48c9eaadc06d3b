namespace S3Storage.Gateway.S3;

/// <summary>
/// A failure as S3 names it: the <see cref="Code"/> clients switch on (NoSuchKey,
/// SignatureDoesNotMatch, …), its HTTP status and a message. Answered as S3's error XML.
/// </summary>
public sealed class S3Exception(string code, int statusCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public string Code { get; } = code;

    public int StatusCode { get; } = statusCode;

    /// <summary>Extra elements of the error document (S3 adds e.g. Region, Key, BucketName).</summary>
    public IReadOnlyDictionary<string, string>? Details { get; init; }
}

/// <summary>S3's error codes this API answers with, each with its status.</summary>
public static class S3Errors
{
    public static S3Exception AccessDenied(string message) => new("AccessDenied", 403, message);

    public static S3Exception InvalidAccessKeyId(string message) => new("InvalidAccessKeyId", 403, message);

    public static S3Exception SignatureDoesNotMatch(string message) => new("SignatureDoesNotMatch", 403, message);

    public static S3Exception RequestTimeTooSkewed(string message) => new("RequestTimeTooSkewed", 403, message);

    public static S3Exception AuthorizationHeaderMalformed(string message) => new("AuthorizationHeaderMalformed", 400, message);

    public static S3Exception AuthorizationQueryParametersError(string message) => new("AuthorizationQueryParametersError", 400, message);

    public static S3Exception InvalidArgument(string message) => new("InvalidArgument", 400, message);

    public static S3Exception InvalidRequest(string message) => new("InvalidRequest", 400, message);

    public static S3Exception InvalidUri(string message) => new("InvalidURI", 400, message);

    public static S3Exception MalformedXml(string message) => new("MalformedXML", 400, message);

    public static S3Exception BadDigest(string message) => new("BadDigest", 400, message);

    public static S3Exception InvalidDigest(string message) => new("InvalidDigest", 400, message);

    public static S3Exception ContentSha256Mismatch(string message) => new("XAmzContentSHA256Mismatch", 400, message);

    public static S3Exception IncompleteBody(string message) => new("IncompleteBody", 400, message);

    public static S3Exception MissingContentLength(string message) => new("MissingContentLength", 411, message);

    public static S3Exception EntityTooLarge(string message) => new("EntityTooLarge", 400, message);

    public static S3Exception EntityTooSmall(string message) => new("EntityTooSmall", 400, message);

    public static S3Exception KeyTooLong(string message) => new("KeyTooLongError", 400, message);

    public static S3Exception InvalidBucketName(string message) => new("InvalidBucketName", 400, message);

    public static S3Exception NoSuchBucket(string bucket) => new("NoSuchBucket", 404, $"The bucket {bucket} does not exist.") { Details = new Dictionary<string, string> { ["BucketName"] = bucket } };

    public static S3Exception NoSuchKey(string key) => new("NoSuchKey", 404, "The specified key does not exist.") { Details = new Dictionary<string, string> { ["Key"] = key } };

    public static S3Exception NoSuchUpload(string uploadId) => new("NoSuchUpload", 404, $"The multipart upload {uploadId} does not exist: it was aborted, completed long ago, or never started.");

    public static S3Exception BucketNotEmpty(string bucket) => new("BucketNotEmpty", 409, $"The bucket {bucket} is not empty: delete its objects and abort its multipart uploads first.");

    public static S3Exception BucketAlreadyExists(string bucket) => new("BucketAlreadyExists", 409, $"The bucket {bucket} exists and belongs to another key.");

    public static S3Exception BucketAlreadyOwnedByYou(string bucket) => new("BucketAlreadyOwnedByYou", 409, $"You already own the bucket {bucket}.");

    public static S3Exception InvalidPart(string message) => new("InvalidPart", 400, message);

    public static S3Exception InvalidPartOrder(string message) => new("InvalidPartOrder", 400, message);

    public static S3Exception InvalidRange(long size) =>
        new("InvalidRange", 416, $"The requested range is not satisfiable: the object has {size} bytes.") { Details = new Dictionary<string, string> { ["ObjectSize"] = size.ToString(System.Globalization.CultureInfo.InvariantCulture) } };

    public static S3Exception PreconditionFailed(string condition) => new("PreconditionFailed", 412, $"At least one of the pre-conditions you specified did not hold ({condition}).");

    public static S3Exception MethodNotAllowed(string message) => new("MethodNotAllowed", 405, message);

    public static S3Exception NotImplemented(string what) => new("NotImplemented", 501, $"{what} is not implemented by this store.");

    public static S3Exception SlowDown(string message) => new("SlowDown", 503, message);

    public static S3Exception ServiceUnavailable(string message) => new("ServiceUnavailable", 503, message);

    public static S3Exception InternalError(string message) => new("InternalError", 500, message);

    public static S3Exception RequestTimeout(string message) => new("RequestTimeout", 400, message);
}
