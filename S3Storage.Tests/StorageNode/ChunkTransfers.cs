using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using S3Storage.Contracts.Storage;
using NodeClient = S3Storage.Contracts.Storage.StorageNode.StorageNodeClient;

namespace S3Storage.Tests.StorageNode;

/// <summary>Puts and gets over real gRPC, as the gateway will do them.</summary>
internal static class ChunkTransfers
{
    public const int MessageSize = 64 * 1024;

    public static string NewChunkId() => Guid.NewGuid().ToString("D");

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    public static ChunkHeader Header(string chunkId, long size, string sha256, int chunkNumber = 0) =>
        new() { ChunkId = chunkId, Size = size, Sha256 = sha256, FileId = Guid.NewGuid().ToString("D"), ChunkNumber = chunkNumber };

    public static Task<PutChunkResponse> PutAsync(NodeClient client, string chunkId, byte[] data, CancellationToken cancellationToken) =>
        PutAsync(client, Header(chunkId, data.Length, Sha256(data)), data, cancellationToken);

    public static async Task<PutChunkResponse> PutAsync(NodeClient client, ChunkHeader header, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        using var call = client.PutChunk(cancellationToken: cancellationToken);
        try
        {
            await call.RequestStream.WriteAsync(new PutChunkRequest { Header = header }, cancellationToken);
            for (var offset = 0; offset < data.Length; offset += MessageSize)
            {
                var piece = data.Slice(offset, Math.Min(MessageSize, data.Length - offset));
                await call.RequestStream.WriteAsync(new PutChunkRequest { Data = ByteString.CopyFrom(piece.Span) }, cancellationToken);
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (InvalidOperationException)
        {
            // The node answered before reading everything (already present, or refused):
            // its answer is in ResponseAsync.
        }
        catch (RpcException)
        {
        }

        return await call.ResponseAsync;
    }

    /// <summary>A put as a writer streams a chunk whose hash it learns only at the end: the SHA-256 or XxHash3 (or neither) in a trailer.</summary>
    public static async Task<PutChunkResponse> PutWithTrailerAsync(NodeClient client, string chunkId, byte[] data, string? trailerSha256, string headerSha256, CancellationToken cancellationToken, ulong? trailerXxHash3 = null)
    {
        using var call = client.PutChunk(cancellationToken: cancellationToken);
        try
        {
            await call.RequestStream.WriteAsync(new PutChunkRequest { Header = Header(chunkId, data.Length, headerSha256) }, cancellationToken);
            for (var offset = 0; offset < data.Length; offset += MessageSize)
            {
                await call.RequestStream.WriteAsync(new PutChunkRequest { Data = ByteString.CopyFrom(data, offset, Math.Min(MessageSize, data.Length - offset)) }, cancellationToken);
            }

            if (trailerSha256 is not null || trailerXxHash3 is not null)
            {
                var trailer = new ChunkTrailer { Sha256 = trailerSha256 ?? "" };
                if (trailerXxHash3 is { } xxHash3)
                {
                    trailer.Xxhash3 = xxHash3;
                }

                await call.RequestStream.WriteAsync(new PutChunkRequest { Trailer = trailer }, cancellationToken);
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (InvalidOperationException)
        {
        }
        catch (RpcException)
        {
        }

        return await call.ResponseAsync;
    }

    /// <summary>A chunk too large to hold in memory, generated twice from a seed: once to hash it, once to send it.</summary>
    public static async Task<(PutChunkResponse Response, string Sha256)> PutGeneratedAsync(NodeClient client, string chunkId, long size, int seed, CancellationToken cancellationToken)
    {
        var sha256 = HashGenerated(size, seed);
        using var call = client.PutChunk(cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(new PutChunkRequest { Header = Header(chunkId, size, sha256) }, cancellationToken);
        foreach (var piece in Generate(size, seed))
        {
            await call.RequestStream.WriteAsync(new PutChunkRequest { Data = ByteString.CopyFrom(piece) }, cancellationToken);
        }

        await call.RequestStream.CompleteAsync();
        return (await call.ResponseAsync, sha256);
    }

    public static string HashGenerated(long size, int seed)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var piece in Generate(size, seed))
        {
            hash.AppendData(piece);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Deterministic pseudo-random bytes in 64 KiB pieces; each piece is valid until the next.</summary>
    public static IEnumerable<byte[]> Generate(long size, int seed)
    {
        var random = new Random(seed);
        var buffer = new byte[MessageSize];
        for (long sent = 0; sent < size; sent += MessageSize)
        {
            var length = (int)Math.Min(MessageSize, size - sent);
            if (length != buffer.Length)
            {
                buffer = new byte[length];
            }

            random.NextBytes(buffer);
            yield return buffer;
        }
    }

    public static async Task<(ChunkInfo Info, byte[] Data)> GetAsync(NodeClient client, string chunkId, CancellationToken cancellationToken, long offset = 0, long? length = null)
    {
        var request = new GetChunkRequest { ChunkId = chunkId, Offset = offset };
        if (length is { } requested)
        {
            request.Length = requested;
        }

        using var call = client.GetChunk(request, cancellationToken: cancellationToken);
        ChunkInfo? info = null;
        using var data = new MemoryStream();
        await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            if (message.PayloadCase == GetChunkResponse.PayloadOneofCase.Info)
            {
                info = message.Info;
            }
            else
            {
                message.Data.WriteTo(data);
            }
        }

        return (info ?? throw new InvalidOperationException("GetChunk sent no info message."), data.ToArray());
    }

    /// <summary>Reads what a get delivers before it fails, and the failure.</summary>
    public static async Task<(byte[] Received, RpcException Error)> GetUntilErrorAsync(NodeClient client, string chunkId, CancellationToken cancellationToken)
    {
        using var call = client.GetChunk(new GetChunkRequest { ChunkId = chunkId }, cancellationToken: cancellationToken);
        using var data = new MemoryStream();
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                if (message.PayloadCase == GetChunkResponse.PayloadOneofCase.Data)
                {
                    message.Data.WriteTo(data);
                }
            }
        }
        catch (RpcException e)
        {
            return (data.ToArray(), e);
        }

        throw new Xunit.Sdk.XunitException($"GetChunk of {chunkId} succeeded with {data.Length} bytes; an error was expected.");
    }

    /// <summary>Flips one bit of the chunk's data on disk, past the 128-byte header.</summary>
    public static void FlipByteOnDisk(string chunkPath, long dataOffset)
    {
        using var file = new FileStream(chunkPath, FileMode.Open, FileAccess.ReadWrite);
        file.Position = 128 + dataOffset;
        var original = file.ReadByte();
        file.Position = 128 + dataOffset;
        file.WriteByte((byte)(original ^ 0x01));
    }

    public static string ChunkPath(string dataDirectory, string chunkId) =>
        Path.Combine(dataDirectory, "chunks", chunkId[..2], chunkId[2..4], chunkId);
}
