using System.Diagnostics.CodeAnalysis;

namespace S3Storage.StorageNode.Chunks;

/// <summary>
/// A chunk id as the node accepts it: a UUID in lowercase "D" form. Nothing else reaches the
/// file system, so an id can never name a path outside the chunk directory.
/// </summary>
public readonly record struct ChunkId
{
    private ChunkId(string value) => Value = value;

    public string Value { get; }

    public static bool TryParse(string? text, [NotNullWhen(true)] out ChunkId? id)
    {
        id = null;
        if (text is null || text.Length != 36 || !Guid.TryParseExact(text, "D", out var guid))
        {
            return false;
        }

        var canonical = guid.ToString("D");
        if (!string.Equals(canonical, text, StringComparison.Ordinal))
        {
            return false;
        }

        id = new ChunkId(canonical);
        return true;
    }

    public static ChunkId Parse(string? text) =>
        TryParse(text, out var id)
            ? id.Value
            : throw new ChunkStoreException(ChunkError.InvalidArgument, $"'{text}' is not a chunk id: expected a lowercase UUID like 3f2504e0-4f89-41d3-9a0c-0305e82c3301.");

    public override string ToString() => Value;
}
