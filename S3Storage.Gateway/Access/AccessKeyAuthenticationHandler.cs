using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using S3Storage.Contracts.Access;

namespace S3Storage.Gateway.Access;

/// <summary>
/// <c>Authorization: Bearer s3s_&lt;key id&gt;_&lt;secret&gt;</c> on the REST API. A missing header
/// leaves the request anonymous (probes stay open; everything else then answers 401); a header
/// that is present but not a live key of this store fails, whatever is wrong with it. Failures
/// are described by key id at most, never by the secret.
/// </summary>
public sealed class AccessKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    AccessKeyCache keys,
    IProblemDetailsService problemDetails) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "AccessKey";
    public const string Realm = "s3storage";

    private const string BearerScheme = "Bearer";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(HeaderNames.Authorization, out var values))
        {
            return AuthenticateResult.NoResult();
        }

        if (values.Count != 1)
        {
            return AuthenticateResult.Fail("The request has more than one Authorization header.");
        }

        var header = (values[0] ?? "").AsSpan().Trim();
        if (header.IsEmpty)
        {
            return AuthenticateResult.Fail("The Authorization header is empty.");
        }

        var space = header.IndexOf(' ');
        if (space < 0 || !header[..space].Equals(BearerScheme, StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail($"The Authorization header must use the Bearer scheme: Authorization: Bearer {AccessKeyToken.Prefix}<key id>_<secret>.");
        }

        if (!AccessKeyToken.TryParse(header[(space + 1)..].Trim(), out var token))
        {
            return AuthenticateResult.Fail($"The bearer token is not an access key of this store ({AccessKeyToken.Prefix}<key id>_<secret>, {AccessKeyToken.Length} characters).");
        }

        var key = await keys.FindAsync(token.AccessKeyId, Context.RequestAborted);
        if (key is null || !key.SecretMatches(token.Secret))
        {
            // One answer for both: which key ids exist is not for a caller without the secret to learn.
            return AuthenticateResult.Fail($"Access key {token.AccessKeyId} does not exist or its secret is wrong.");
        }

        if (key.RevokedAt is { } revokedAt)
        {
            return AuthenticateResult.Fail($"Access key {key.AccessKeyId} was revoked at {revokedAt:u}.");
        }

        if (key.ExpiresAt is { } expiresAt && expiresAt <= DateTimeOffset.UtcNow)
        {
            return AuthenticateResult.Fail($"Access key {key.AccessKeyId} expired at {expiresAt:u}.");
        }

        await keys.RecordUseAsync(key, Context.RequestAborted);
        return AuthenticateResult.Success(new AuthenticationTicket(key.ToPrincipal(SchemeName), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = failure is null
            ? $"{BearerScheme} realm=\"{Realm}\""
            : $"{BearerScheme} realm=\"{Realm}\", error=\"invalid_token\"";
        await problemDetails.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = failure is null ? "An access key is required" : "The access key was refused",
                Detail = failure?.Message ?? $"Send the key as Authorization: Bearer {AccessKeyToken.Prefix}<key id>_<secret>.",
            },
        });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        var needed = Context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>()
            .Select(data => AccessPolicies.Describe(data.Policy))
            .LastOrDefault(description => description is not null);
        await problemDetails.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status403Forbidden,
                Title = "The access key's role does not allow this",
                Detail = $"Access key {Context.User.FindFirstValue(ClaimTypes.NameIdentifier)} has the role {Context.User.FindFirstValue(ClaimTypes.Role)}; "
                    + (needed ?? "this call needs another role") + ".",
            },
        });
    }
}
