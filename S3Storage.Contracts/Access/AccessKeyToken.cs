using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace S3Storage.Contracts.Access;

/// <summary>
/// The bearer token a REST client presents: <c>s3s_&lt;key id&gt;_&lt;secret&gt;</c>. The key id
/// (20 characters, <c>S3SK</c> then base32) and the secret (40 alphanumerics) are what an S3
/// client is given as its access key id and secret access key. The prefix makes a leaked token
/// easy to recognise (secret scanners, log searches); neither part contains the separator.
/// </summary>
public sealed record AccessKeyToken(string AccessKeyId, string Secret)
{
    public const string Prefix = "s3s_";
    public const string KeyIdPrefix = "S3SK";
    public const int KeyIdLength = 20;
    public const int SecretLength = 40;

    /// <summary>For the database's check constraint.</summary>
    public const string KeyIdPattern = "^S3SK[A-Z2-7]{16}$";

    private const string KeyIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    private const string SecretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>The longest header value worth parsing: anything longer is not a token.</summary>
    public static readonly int Length = Prefix.Length + KeyIdLength + 1 + SecretLength;

    public static AccessKeyToken Generate() =>
        new(KeyIdPrefix + RandomNumberGenerator.GetString(KeyIdAlphabet, KeyIdLength - KeyIdPrefix.Length), RandomNumberGenerator.GetString(SecretAlphabet, SecretLength));

    /// <summary>Parses a token without throwing: anything not of the exact shape is refused.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, [NotNullWhen(true)] out AccessKeyToken? token)
    {
        token = null;
        if (text.Length != Length || !text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var keyId = text.Slice(Prefix.Length, KeyIdLength);
        var separator = text[Prefix.Length + KeyIdLength];
        var secret = text[(Prefix.Length + KeyIdLength + 1)..];
        if (!IsKeyId(keyId) || separator != '_' || secret.ContainsAnyExcept(SecretAlphabet))
        {
            return false;
        }

        token = new AccessKeyToken(keyId.ToString(), secret.ToString());
        return true;
    }

    public static bool IsKeyId(ReadOnlySpan<char> text) =>
        text.Length == KeyIdLength && text.StartsWith(KeyIdPrefix, StringComparison.Ordinal) && !text[KeyIdPrefix.Length..].ContainsAnyExcept(KeyIdAlphabet);

    /// <summary>The token as the client sends it after <c>Bearer </c>.</summary>
    public string Value => $"{Prefix}{AccessKeyId}_{Secret}";

    /// <summary>Never the secret: records print themselves in logs and debuggers.</summary>
    public override string ToString() => $"{Prefix}{AccessKeyId}_***";
}
