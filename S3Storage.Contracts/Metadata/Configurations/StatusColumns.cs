using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace S3Storage.Contracts.Metadata.Configurations;

/// <summary>Status enums are stored as lowercase text, and the database refuses any other value.</summary>
internal static class StatusColumns
{
    public static ValueConverter<TEnum, string> Converter<TEnum>()
        where TEnum : struct, Enum =>
        new(value => Name(value), text => Enum.Parse<TEnum>(text, ignoreCase: true));

    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum =>
        value.ToString().ToLowerInvariant();

    public static string CheckIn<TEnum>(string column)
        where TEnum : struct, Enum =>
        $"{column} IN ({string.Join(", ", Enum.GetValues<TEnum>().Select(v => $"'{Name(v)}'"))})";

    public static string Sha256Check(string column) => $"{column} IS NULL OR {column} ~ '^[0-9a-f]{{64}}$'";
}
