using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Access;

namespace S3Storage.Gateway.Access;

/// <summary>Access keys (section <c>Access</c>, env <c>Access__*</c>).</summary>
public sealed class AccessOptions
{
    public const string SectionName = "Access";

    /// <summary>
    /// The first admin key, as a token (<c>s3s_…</c>): it lives only in configuration (an AppHost
    /// secret parameter, or what the dev cluster generates), so an operator can always get in,
    /// and rotates it by changing the setting (<c>Access__AdminKey</c>).
    /// </summary>
    public string AdminKey { get; set; } = "";

    /// <summary>
    /// How long a gateway trusts what it read about a key (<c>Access__CacheDuration</c>): a key
    /// revoked through another gateway is refused here within this time.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00", ErrorMessage = "Access:CacheDuration must be between 0 and 5 minutes.")]
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A key's last-used time is written at most this often per gateway (<c>Access__LastUsedInterval</c>): not one write per request.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ErrorMessage = "Access:LastUsedInterval must be between 0 and 1 day.")]
    public TimeSpan LastUsedInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The admin key, parsed; valid once the options are validated.</summary>
    public AccessKeyToken AdminToken => AccessKeyToken.TryParse(AdminKey, out var token) ? token : throw new InvalidOperationException("Access:AdminKey is not a valid key.");
}

internal sealed class AccessOptionsValidator : IValidateOptions<AccessOptions>
{
    // The messages never show the value: it is a secret.
    public ValidateOptionsResult Validate(string? name, AccessOptions options) =>
        string.IsNullOrWhiteSpace(options.AdminKey)
            ? ValidateOptionsResult.Fail("Access:AdminKey is not set: give the gateway its first admin key (environment variable Access__AdminKey); the AppHost and the dev cluster generate one.")
            : !AccessKeyToken.TryParse(options.AdminKey, out _)
                ? ValidateOptionsResult.Fail($"Access:AdminKey is not a key: expected {AccessKeyToken.Prefix} then a 20-character key id starting {AccessKeyToken.KeyIdPrefix}, '_', and a 40-character alphanumeric secret ({AccessKeyToken.Length} characters in all).")
                : ValidateOptionsResult.Success;
}
