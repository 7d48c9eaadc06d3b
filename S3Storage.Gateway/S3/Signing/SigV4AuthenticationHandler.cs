using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using S3Storage.Contracts.Access;
using S3Storage.Gateway.Access;

namespace S3Storage.Gateway.S3.Signing;

/// <summary>
/// AWS Signature Version 4 with this store's access keys, in the Authorization header or in a
/// presigned URL's query. A verified request carries the same claims as a bearer key (so rate
/// limits and roles apply alike) and a <see cref="SignedRequest"/> for checking the payload as
/// it streams. Failures carry the <see cref="S3Exception"/> the S3 API answers with.
/// </summary>
public sealed partial class SigV4AuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    AccessKeyCache keys,
    IOptions<S3Options> s3Options,
    TimeProvider clock) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "SigV4";

    private const string AmzDateFormat = "yyyyMMdd'T'HHmmss'Z'";
    private static readonly TimeSpan MaxPresignedLifetime = TimeSpan.FromDays(7);

    /// <summary>
    /// x-amz-* headers a request may carry unsigned: the payload hash and the date are in the
    /// string to sign anyway, and the .NET SDK leaves its user agent out of the signature.
    /// </summary>
    private static readonly HashSet<string> UnsignedHeadersAllowed = ["x-amz-content-sha256", "x-amz-date", "x-amz-user-agent"];

    /// <summary>Whether a request is signed the SigV4 way (header or query), so this scheme handles it.</summary>
    public static bool Claims(HttpRequest request) =>
        request.Headers.Authorization.ToString().StartsWith(SigV4.Algorithm, StringComparison.Ordinal)
        || request.Query.ContainsKey("X-Amz-Algorithm")
        || request.Headers.Authorization.ToString().StartsWith("AWS ", StringComparison.Ordinal)
        || request.Query.ContainsKey("AWSAccessKeyId");

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        try
        {
            var signed = await VerifyAsync();
            return signed;
        }
        catch (S3Exception e)
        {
            return AuthenticateResult.Fail(e);
        }
    }

    private async Task<AuthenticateResult> VerifyAsync()
    {
        var target = S3Target.Parse(Context, s3Options.Value.BaseDomain);
        var presigned = target.Has("X-Amz-Algorithm");
        if (!presigned && (target.Has("AWSAccessKeyId") || Request.Headers.Authorization.ToString().StartsWith("AWS ", StringComparison.Ordinal)))
        {
            throw S3Errors.InvalidRequest("Signature Version 2 is not supported: sign requests with AWS Signature Version 4 (boto3: Config(signature_version='s3v4')).");
        }

        var parts = presigned ? FromQuery(target) : FromHeader();
        var now = clock.GetUtcNow();
        if (!DateTimeOffset.TryParseExact(parts.AmzDate, AmzDateFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt))
        {
            throw S3Errors.AccessDenied($"The request time '{parts.AmzDate}' is not an ISO 8601 basic time (yyyyMMddTHHmmssZ).");
        }

        if (presigned)
        {
            if (signedAt - now > SigV4.AllowedSkew)
            {
                throw S3Errors.AccessDenied("The presigned URL is dated in the future.");
            }

            if (now > signedAt + parts.Expires)
            {
                throw S3Errors.AccessDenied("Request has expired.");
            }
        }
        else if ((now - signedAt).Duration() > SigV4.AllowedSkew)
        {
            throw S3Errors.RequestTimeTooSkewed($"The difference between the request time ({signedAt:u}) and the server's time ({now:u}) is more than 15 minutes.");
        }

        var scope = parts.Credential.Split('/');
        if (scope is not [var keyId, var date, var region, SigV4.Service, SigV4.Terminator] || region.Length == 0)
        {
            throw S3Errors.AuthorizationHeaderMalformed($"The credential '{parts.Credential.Split('/')[0]}/…' must be <access key id>/<yyyymmdd>/<region>/s3/aws4_request.");
        }

        if (date != parts.AmzDate[..8])
        {
            throw S3Errors.AuthorizationHeaderMalformed($"The credential's date {date} is not the request's date {parts.AmzDate[..8]}.");
        }

        // One answer for unknown, revoked and expired keys: which key ids exist, and when they
        // ended, is not for a caller without the secret to learn.
        var key = AccessKeyToken.IsKeyId(keyId) ? await keys.FindAsync(keyId, Context.RequestAborted) : null;
        if (key is null || key.RevokedAt is not null || key.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            throw S3Errors.InvalidAccessKeyId("The AWS access key id you provided does not exist in our records.");
        }

        var signedHeaders = parts.SignedHeaders.Split(';');
        if (!signedHeaders.Contains("host"))
        {
            throw S3Errors.AuthorizationHeaderMalformed("SignedHeaders must include host.");
        }

        // Every x-amz-* header changes what the request does (a copy source, metadata, a
        // checksum): one the signature does not cover could be added to a presigned URL.
        foreach (var (name, _) in Request.Headers)
        {
            var lower = name.ToLowerInvariant();
            if (lower.StartsWith("x-amz-", StringComparison.Ordinal) && !UnsignedHeadersAllowed.Contains(lower) && !signedHeaders.Contains(lower))
            {
                throw S3Errors.AccessDenied($"There were headers present in the request which were not signed: {lower}.");
            }
        }

        var canonical = CanonicalRequest(target, signedHeaders, parts);
        var credentialScope = $"{date}/{region}/{SigV4.Service}/{SigV4.Terminator}";
        var stringToSign = $"{SigV4.Algorithm}\n{parts.AmzDate}\n{credentialScope}\n{SigV4.Sha256Hex(canonical)}";
        var signingKey = SigV4.SigningKey(key.Secret, date, region);
        var expected = SigV4.Sign(signingKey, stringToSign);
        if (!SigV4.SignaturesMatch(expected, parts.Signature))
        {
            LogSignatureMismatch(Logger, key.AccessKeyId, Request.Method, canonical);
            throw S3Errors.SignatureDoesNotMatch("The request signature we calculated does not match the signature you provided. Check your key and signing method.");
        }

        await keys.RecordUseAsync(key, Context.RequestAborted);
        Context.Features.Set(new SignedRequest(key.AccessKeyId, parts.PayloadHash, parts.AmzDate, credentialScope, expected, signingKey, presigned));
        return AuthenticateResult.Success(new AuthenticationTicket(key.ToPrincipal(SchemeName), SchemeName));
    }

    private sealed record SignatureParts(string Credential, string SignedHeaders, string Signature, string AmzDate, string PayloadHash, TimeSpan Expires);

    private SignatureParts FromHeader()
    {
        var values = Request.Headers.Authorization;
        if (values.Count != 1)
        {
            throw S3Errors.AuthorizationHeaderMalformed("The request has more than one Authorization header.");
        }

        var header = values[0]!;
        string? credential = null, signedHeaders = null, signature = null;
        // botocore joins with ", ", s3cmd with ",": split on commas and trim.
        foreach (var item in header[SigV4.Algorithm.Length..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = item.IndexOf('=');
            if (equals < 0)
            {
                continue;
            }

            var value = item[(equals + 1)..];
            switch (item[..equals])
            {
                case "Credential": credential = value; break;
                case "SignedHeaders": signedHeaders = value; break;
                case "Signature": signature = value; break;
            }
        }

        if (credential is null || signedHeaders is null || signature is null)
        {
            throw S3Errors.AuthorizationHeaderMalformed("The Authorization header must carry Credential, SignedHeaders and Signature.");
        }

        var amzDate = Request.Headers["x-amz-date"].ToString();
        if (amzDate.Length == 0)
        {
            throw S3Errors.AccessDenied("AWS authentication requires a valid x-amz-date header.");
        }

        var payloadHash = Request.Headers["x-amz-content-sha256"].ToString();
        if (payloadHash.Length == 0)
        {
            throw S3Errors.InvalidRequest("Missing required header for this request: x-amz-content-sha256.");
        }

        if (!IsPayloadHash(payloadHash))
        {
            throw payloadHash.Contains("ECDSA", StringComparison.Ordinal)
                ? S3Errors.NotImplemented("Signature Version 4a (ECDSA)")
                : S3Errors.InvalidArgument($"x-amz-content-sha256 must be a hex SHA-256 or one of {SigV4.UnsignedPayload}, {SigV4.StreamingSigned}, {SigV4.StreamingSignedTrailer}, {SigV4.StreamingUnsignedTrailer}.");
        }

        return new SignatureParts(credential, signedHeaders, signature, amzDate, payloadHash, TimeSpan.Zero);
    }

    private static SignatureParts FromQuery(S3Target target)
    {
        string Required(string name) => target.Get(name) is { Length: > 0 } value
            ? value
            : throw S3Errors.AuthorizationQueryParametersError($"Query-string authentication requires the {name} parameter.");

        if (Required("X-Amz-Algorithm") != SigV4.Algorithm)
        {
            throw S3Errors.AuthorizationQueryParametersError($"X-Amz-Algorithm must be {SigV4.Algorithm}.");
        }

        var expiresText = Required("X-Amz-Expires");
        if (!int.TryParse(expiresText, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > MaxPresignedLifetime.TotalSeconds)
        {
            throw S3Errors.AuthorizationQueryParametersError("X-Amz-Expires must be a number of seconds from 0 to 604800 (7 days).");
        }

        var payloadHash = target.Get("X-Amz-Content-Sha256") ?? SigV4.UnsignedPayload;
        if (!IsPayloadHash(payloadHash) || payloadHash.StartsWith("STREAMING-", StringComparison.Ordinal))
        {
            throw S3Errors.AuthorizationQueryParametersError("X-Amz-Content-Sha256 must be a hex SHA-256 or UNSIGNED-PAYLOAD in a presigned URL.");
        }

        return new SignatureParts(Required("X-Amz-Credential"), Required("X-Amz-SignedHeaders"), Required("X-Amz-Signature"), Required("X-Amz-Date"), payloadHash, TimeSpan.FromSeconds(seconds));
    }

    private string CanonicalRequest(S3Target target, string[] signedHeaders, SignatureParts parts)
    {
        var canonical = new StringBuilder(512);
        canonical.Append(Request.Method).Append('\n');
        SigV4.UriEncode(canonical, target.Path, encodeSlash: false);
        canonical.Append('\n').Append(SigV4.CanonicalQuery(target.Query)).Append('\n');
        foreach (var name in signedHeaders)
        {
            if (name.Length == 0 || name != name.ToLowerInvariant())
            {
                throw S3Errors.AuthorizationHeaderMalformed("SignedHeaders must be lower-case header names separated by ';'.");
            }

            var value = name == "host"
                ? Request.Headers.Host.ToString()
                : string.Join(',', Request.Headers[name].Select(v => SigV4.CanonicalHeaderValue(v ?? "")));
            canonical.Append(name).Append(':').Append(SigV4.CanonicalHeaderValue(value)).Append('\n');
        }

        canonical.Append('\n').Append(parts.SignedHeaders).Append('\n').Append(parts.PayloadHash);
        return canonical.ToString();
    }

    private static bool IsPayloadHash(string value) =>
        value is SigV4.UnsignedPayload or SigV4.StreamingSigned or SigV4.StreamingSignedTrailer or SigV4.StreamingUnsignedTrailer
        || value.Length == 64 && value.All(char.IsAsciiHexDigitLower);

    private static string Printable(string keyId) => keyId.Length <= AccessKeyToken.KeyIdLength && keyId.All(char.IsAsciiLetterOrDigit) ? keyId : "(malformed)";

    // The canonical request holds no secret (the signature is an HMAC of it); logged at debug
    // level because a mismatch is almost always a client signing a different request than it sent.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Signature mismatch for key {AccessKeyId} on {Method}; canonical request:\n{CanonicalRequest}")]
    private static partial void LogSignatureMismatch(ILogger logger, string accessKeyId, string method, string canonicalRequest);
}
