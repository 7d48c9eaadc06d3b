using System.Buffers.Binary;
using System.Buffers.Text;

namespace S3Storage.Gateway.Files;

/// <summary>
/// Where the next page of a listing starts: the (created_at, file_id) of the last file listed.
/// A page read from here costs the same at any depth, unlike an offset. Opaque to clients:
/// base64url of the creation time's ticks and the id.
/// </summary>
public readonly record struct FileListCursor(DateTimeOffset CreatedAt, Guid FileId)
{
    private const int Size = sizeof(long) + 16;

    public string Encode()
    {
        Span<byte> bytes = stackalloc byte[Size];
        BinaryPrimitives.WriteInt64BigEndian(bytes, CreatedAt.UtcTicks);
        FileId.TryWriteBytes(bytes[sizeof(long)..], bigEndian: true, out _);
        return Base64Url.EncodeToString(bytes);
    }

    public static bool TryDecode(string text, out FileListCursor cursor)
    {
        cursor = default;
        Span<byte> bytes = stackalloc byte[Size];
        // TryDecodeFromChars throws on characters outside the alphabet: check them first.
        if (text.Length != Base64Url.GetEncodedLength(Size)
            || !Base64Url.IsValid(text)
            || !Base64Url.TryDecodeFromChars(text, bytes, out var written)
            || written != Size)
        {
            return false;
        }

        var ticks = BinaryPrimitives.ReadInt64BigEndian(bytes);
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        cursor = new FileListCursor(new DateTimeOffset(ticks, TimeSpan.Zero), new Guid(bytes[sizeof(long)..], bigEndian: true));
        return true;
    }
}
