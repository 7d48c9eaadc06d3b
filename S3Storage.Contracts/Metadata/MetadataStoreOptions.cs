using Microsoft.Extensions.Options;
using Npgsql;

namespace S3Storage.Contracts.Metadata;

/// <summary>Where the metadata lives: <c>ConnectionStrings:metadata</c> (env <c>ConnectionStrings__metadata</c>).</summary>
public sealed class MetadataStoreOptions
{
    public const string ConnectionStringName = "metadata";

    public string? ConnectionString { get; set; }
}

internal sealed class MetadataStoreOptionsValidator : IValidateOptions<MetadataStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, MetadataStoreOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return ValidateOptionsResult.Fail(
                $"ConnectionStrings:{MetadataStoreOptions.ConnectionStringName} is not set: give it the PostgreSQL connection string " +
                $"(environment variable ConnectionStrings__{MetadataStoreOptions.ConnectionStringName}).");
        }

        try
        {
            _ = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        }
        catch (ArgumentException e)
        {
            return ValidateOptionsResult.Fail(
                $"ConnectionStrings:{MetadataStoreOptions.ConnectionStringName} is not a valid PostgreSQL connection string: {e.Message}");
        }

        return ValidateOptionsResult.Success;
    }
}
