using System.Buffers.Binary;
using System.Text;

namespace S3Storage.StorageNode.Chunks;

/// <summary>
/// The first 128 bytes of every chunk file. A chunk file is
/// <c>[header][data][one CRC-32 per block of the data]</c>: the chunk's size, SHA-256 and block
/// checksums travel with its bytes in one file, so one rename publishes them together, and
/// reads and the scrub verify without the database. Block checksums let a read check each
/// block before sending it, so a corrupt chunk fails before a single bad byte leaves the node.
/// <code>
/// 0   8  magic "S3SCHUNK"
/// 8   4  format version (1), little-endian
/// 12  4  header length (128)
/// 16  8  data length
/// 24 32  SHA-256 of the data
/// 56 16  file id (RFC 4122 byte order)
/// 72  4  chunk number
/// 76  8  stored at, Unix milliseconds
/// 84  4  checksum block size
/// 88 40  zero
/// </code>
/// </summary>
public sealed record ChunkFileHeader(long DataLength, byte[] Sha256, Guid FileId, int ChunkNumber, DateTimeOffset StoredAt, int BlockSize)
{
    public const int Length = 128;

    private const int Version = 1;

    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("S3SCHUNK");

    public string Sha256Hex => Convert.ToHexStringLower(Sha256);

    public void Write(Span<byte> destination)
    {
        destination[..Length].Clear();
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], Length);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], DataLength);
        Sha256.CopyTo(destination[24..56]);
        FileId.TryWriteBytes(destination[56..72], bigEndian: true, out _);
        BinaryPrimitives.WriteInt32LittleEndian(destination[72..], ChunkNumber);
        BinaryPrimitives.WriteInt64LittleEndian(destination[76..], StoredAt.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt32LittleEndian(destination[84..], BlockSize);
    }

    public long BlockCount => DataLength == 0 ? 0 : ((DataLength - 1) / BlockSize) + 1;

    public long TrailerOffset => Length + DataLength;

    /// <summary>The exact length of a complete chunk file; anything else is truncated or padded.</summary>
    public long FileLength => TrailerOffset + (BlockCount * sizeof(uint));

    /// <summary>Parses a header; null when the bytes are not a chunk header this node wrote.</summary>
    public static ChunkFileHeader? TryRead(ReadOnlySpan<byte> source)
    {
        if (source.Length < Length
            || !source[..8].SequenceEqual(Magic)
            || BinaryPrimitives.ReadInt32LittleEndian(source[8..]) != Version
            || BinaryPrimitives.ReadInt32LittleEndian(source[12..]) != Length)
        {
            return null;
        }

        var dataLength = BinaryPrimitives.ReadInt64LittleEndian(source[16..]);
        var blockSize = BinaryPrimitives.ReadInt32LittleEndian(source[84..]);
        if (dataLength < 0 || blockSize <= 0)
        {
            return null;
        }

        return new ChunkFileHeader(
            dataLength,
            source[24..56].ToArray(),
            new Guid(source[56..72], bigEndian: true),
            BinaryPrimitives.ReadInt32LittleEndian(source[72..]),
            DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(source[76..])),
            blockSize);
    }
}
