using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Diagnostics;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;
using S3Storage.Gateway.Apis;
using S3Storage.Gateway.Errors;
using S3Storage.Gateway.S3.Buckets;
using S3Storage.Gateway.S3.Signing;

namespace S3Storage.Gateway.S3;

/// <summary>One S3 request as the operations see it.</summary>
public sealed record S3Request(HttpContext Context, S3Target Target, S3Caller Caller, SignedRequest Signed)
{
    public HttpRequest Request => Context.Request;

    public HttpResponse Response => Context.Response;

    public CancellationToken Aborted => Context.RequestAborted;

    public string Bucket => Target.Bucket!;

    public string Key => Target.Key!;

    public T Service<T>()
        where T : notnull => Context.RequestServices.GetRequiredService<T>();
}

/// <summary>
/// Routes a request to the S3 API when it is one: a path outside the REST API's names, a host
/// under the base domain, or any request signed the S3 way (which then learns that a reserved
/// name is not a bucket, in S3's terms).
/// </summary>
public sealed class S3RouteConstraint(IOptions<S3Options> options) : IRouteConstraint
{
    public const string Name = "s3";

    public bool Match(HttpContext? httpContext, IRouter? route, string routeKey, RouteValueDictionary values, RouteDirection routeDirection) =>
        httpContext is not null && (S3Target.IsS3Request(httpContext, options.Value.BaseDomain) || SigV4AuthenticationHandler.Claims(httpContext.Request));
}

/// <summary>Marks the S3 endpoint, so shared parts (rate limits) answer in S3's error format.</summary>
public sealed class S3EndpointMarker;

/// <summary>
/// The S3-compatible API on the gateway's own endpoint: path-style always, virtual-host style
/// under <c>S3:BaseDomain</c>. Every path whose first segment is not a REST resource of the
/// gateway is S3's. Requests are dispatched on method and sub-resource, as S3 defines them;
/// what this store does not do answers 501 NotImplemented.
/// </summary>
public static partial class S3Api
{
    /// <summary>Sub-resources S3 has and this store does not implement.</summary>
    private static readonly string[] UnsupportedSubresources =
    [
        "acl", "policy", "policyStatus", "cors", "lifecycle", "tagging", "website", "logging", "notification", "replication",
        "encryption", "object-lock", "retention", "legal-hold", "torrent", "restore", "select", "accelerate", "analytics",
        "inventory", "metrics", "ownershipControls", "publicAccessBlock", "requestPayment", "intelligent-tiering", "attributes",
        "website", "metadataTable", "session",
    ];

    public static IHostApplicationBuilder AddS3Api(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<S3Options>().Bind(builder.Configuration.GetSection(S3Options.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.Configure<RouteOptions>(routes => routes.SetParameterPolicy<S3RouteConstraint>(S3RouteConstraint.Name));
        services.AddScoped<BucketStore>();
        services.AddScoped<Objects.ObjectStore>();
        services.AddScoped<Listing.ObjectListing>();
        services.AddScoped<Multipart.MultipartUploads>();
        services.AddSingleton<S3Sweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<S3Sweeper>());
        services.TryAddSingleton(TimeProvider.System);
        return builder;
    }

    public static IEndpointRouteBuilder MapS3Api(this IEndpointRouteBuilder app)
    {
        // The lowest-precedence route: every REST route is more specific and wins, and the
        // constraint keeps REST paths (a method or body type no REST endpoint takes) out.
        app.Map($"/{{**s3path:{S3RouteConstraint.Name}}}", HandleAsync)
            .AllowAnonymous()
            .WithMetadata(new S3EndpointMarker())
            .ExcludeFromDescription();
        return app;
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var requestId = Activity.Current?.TraceId.ToHexString()[..16].ToUpperInvariant() ?? Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();
        context.Response.Headers["x-amz-request-id"] = requestId;
        context.Response.Headers["x-amz-id-2"] = requestId;
        if (context.Features.Get<IStatusCodePagesFeature>() is { } statusPages)
        {
            // S3 errors carry their own XML; HEAD errors carry none.
            statusPages.Enabled = false;
        }

        var options = context.RequestServices.GetRequiredService<IOptions<S3Options>>().Value;
        S3Target? target = null;
        try
        {
            target = S3Target.Parse(context, options.BaseDomain);
            if (HttpMethods.IsOptions(context.Request.Method))
            {
                // A CORS preflight; no bucket here has a CORS configuration, and S3 answers so.
                throw new S3Exception("BadRequest", 400, "Insufficient information. Origin request header needed.");
            }

            // Cached by the handler: this is the result the authentication middleware already had.
            var authentication = await context.AuthenticateAsync();
            if (authentication.Failure is { } failure)
            {
                throw failure as S3Exception ?? S3Errors.AccessDenied("The request's credentials were refused.");
            }

            var signed = context.Features.Get<SignedRequest>();
            if (signed is null || S3Caller.From(context.User) is not { } caller)
            {
                throw S3Errors.AccessDenied("Anonymous access is not allowed: sign requests with AWS Signature Version 4 and an access key of this store.");
            }

            await DispatchAsync(new S3Request(context, target, caller, signed));
        }
        catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            var error = ToS3Error(e);
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(S3Api));
            if (error.StatusCode >= 500)
            {
                LogFailed(logger, e, context.Request.Method, target?.Resource ?? "?", error.StatusCode, error.Code);
            }
            else
            {
                LogRefused(logger, context.Request.Method, target?.Resource ?? "?", error.StatusCode, error.Code, error.Message);
            }

            await WriteErrorAsync(context, error, target?.Resource ?? "/", requestId);
        }
        catch (Exception e) when (context.Response.HasStarted && e is not OperationCanceledException)
        {
            // Headers are gone: cut the connection so the client sees a failed transfer, never a short object.
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(S3Api));
            LogAborted(logger, e, context.Request.Method, target?.Resource ?? "?");
            context.Abort();
        }
    }

    public static async Task WriteErrorAsync(HttpContext context, S3Exception error, string resource, string? requestId = null)
    {
        var response = context.Response;
        response.Clear();
        requestId ??= Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();
        response.Headers["x-amz-request-id"] = requestId;
        response.StatusCode = error.StatusCode;
        if (error.StatusCode == StatusCodes.Status503ServiceUnavailable)
        {
            RetryAfter.Set(response);
        }

        if (error.StatusCode == StatusCodes.Status416RangeNotSatisfiable && error.Details?.GetValueOrDefault("ObjectSize") is { } size)
        {
            response.Headers.ContentRange = $"bytes */{size}";
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        var details = error.Details?.Where(d => d.Key != "ObjectSize").Select(d => S3Xml.Element(d.Key, d.Value)) ?? [];
        // The error document has no namespace in S3's own answers.
        await S3Xml.WriteAsync(response, new System.Xml.Linq.XElement(
            "Error",
            new System.Xml.Linq.XElement("Code", error.Code),
            new System.Xml.Linq.XElement("Message", error.Message),
            details.Select(d => new System.Xml.Linq.XElement(d.Name.LocalName, d.Value)),
            new System.Xml.Linq.XElement("Resource", resource),
            new System.Xml.Linq.XElement("RequestId", requestId)), error.StatusCode);
    }

    /// <summary>The one mapping of the store's failures to S3's error codes.</summary>
    public static S3Exception ToS3Error(Exception exception)
    {
        if (exception is S3Exception s3)
        {
            return s3;
        }

        if ((exception as Npgsql.PostgresException ?? exception.InnerException as Npgsql.PostgresException) is { SqlState: Npgsql.PostgresErrorCodes.ForeignKeyViolation })
        {
            // The bucket went (DeleteBucket) while this request wrote into it.
            return new S3Exception("NoSuchBucket", 404, "The bucket was deleted while the request ran.");
        }

        if (StoreProblems.Classify(exception) is not { } failure)
        {
            return S3Errors.InternalError("We encountered an internal error. Please try again.");
        }

        return failure.Failure switch
        {
            StoreFailure.InvalidRequest => S3Errors.InvalidRequest(failure.Message),
            StoreFailure.LengthRequired => S3Errors.MissingContentLength(failure.Message),
            StoreFailure.TooLarge => S3Errors.EntityTooLarge(failure.Message),
            StoreFailure.UploadStalled => S3Errors.RequestTimeout(failure.Message),
            StoreFailure.FileNotFound => new S3Exception("NoSuchKey", 404, failure.Message),
            StoreFailure.FileNotComplete or StoreFailure.UploadInProgress or StoreFailure.FileInUse => new S3Exception("OperationAborted", 409, failure.Message),
            StoreFailure.NodesUnavailable or StoreFailure.DatabaseUnavailable => S3Errors.ServiceUnavailable(failure.Message),
            _ => S3Errors.InternalError(failure.Message),
        };
    }

    private static Task DispatchAsync(S3Request s3)
    {
        var method = s3.Request.Method;
        var target = s3.Target;
        if (UnsupportedSubresources.FirstOrDefault(target.Has) is { } unsupported)
        {
            throw S3Errors.NotImplemented($"The ?{unsupported} sub-resource");
        }

        if (target.Bucket is null)
        {
            return method == HttpMethods.Get ? BucketOperations.ListBucketsAsync(s3) : throw S3Errors.MethodNotAllowed($"{method} is not allowed on the service.");
        }

        if (target.Key is null)
        {
            return method switch
            {
                "PUT" when target.Has("versioning") => throw S3Errors.NotImplemented("Bucket versioning"),
                "PUT" => BucketOperations.CreateBucketAsync(s3),
                "HEAD" => BucketOperations.HeadBucketAsync(s3),
                "DELETE" => BucketOperations.DeleteBucketAsync(s3),
                "GET" when target.Has("location") => BucketOperations.GetLocationAsync(s3),
                "GET" when target.Has("versioning") => BucketOperations.GetVersioningAsync(s3),
                "GET" when target.Has("uploads") => Multipart.MultipartOperations.ListUploadsAsync(s3),
                "GET" when target.Has("versions") => Listing.ListOperations.ListVersionsAsync(s3),
                "GET" when target.Get("list-type") == "2" => Listing.ListOperations.ListV2Async(s3),
                "GET" => Listing.ListOperations.ListV1Async(s3),
                "POST" when target.Has("delete") => Objects.ObjectOperations.DeleteObjectsAsync(s3),
                _ => throw S3Errors.NotImplemented($"{method} on a bucket with this query"),
            };
        }

        ObjectStoreKey(target.Key);
        return method switch
        {
            "PUT" when target.Has("uploadId") && s3.Request.Headers.ContainsKey("x-amz-copy-source") => throw S3Errors.NotImplemented("UploadPartCopy"),
            "PUT" when target.Has("uploadId") => Multipart.MultipartOperations.UploadPartAsync(s3),
            "PUT" when s3.Request.Headers.ContainsKey("x-amz-copy-source") => Objects.ObjectOperations.CopyObjectAsync(s3),
            "PUT" => Objects.ObjectOperations.PutObjectAsync(s3),
            "GET" when target.Has("uploadId") => Multipart.MultipartOperations.ListPartsAsync(s3),
            "GET" or "HEAD" => Objects.ObjectOperations.GetObjectAsync(s3),
            "DELETE" when target.Has("uploadId") => Multipart.MultipartOperations.AbortAsync(s3),
            "DELETE" => Objects.ObjectOperations.DeleteObjectAsync(s3),
            "POST" when target.Has("uploads") => Multipart.MultipartOperations.CreateAsync(s3),
            "POST" when target.Has("uploadId") => Multipart.MultipartOperations.CompleteAsync(s3),
            _ => throw S3Errors.NotImplemented($"{method} on an object with this query"),
        };
    }

    private static void ObjectStoreKey(string key) => Objects.ObjectStore.KeyBytesCheck(key);

    [LoggerMessage(Level = LogLevel.Debug, Message = "S3 {Method} {Resource} answered {Status} {Code}: {Message}")]
    private static partial void LogRefused(ILogger logger, string method, string resource, int status, string code, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "S3 {Method} {Resource} answered {Status} {Code}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string method, string resource, int status, string code);

    [LoggerMessage(Level = LogLevel.Error, Message = "S3 {Method} {Resource} aborted mid-response")]
    private static partial void LogAborted(ILogger logger, Exception exception, string method, string resource);
}
