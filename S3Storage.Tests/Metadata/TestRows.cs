using System.Security.Cryptography;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Placement;

namespace S3Storage.Tests.Metadata;

/// <summary>Valid rows to start tests from.</summary>
internal static class TestRows
{
    public static StoredFile File(long size = 6_000_000, string filename = "report.pdf")
    {
        var plan = ChunkPlanner.Plan(size);
        var file = new StoredFile
        {
            FileId = Guid.CreateVersion7(),
            Filename = filename,
            ContentType = "application/pdf",
            TotalSize = size,
            ChunkSize = plan.ChunkSize,
        };
        file.Chunks.AddRange(plan.Chunks.Select(range => new StoredChunk
        {
            ChunkId = Guid.CreateVersion7(),
            FileId = file.FileId,
            ChunkNumber = range.Number,
            ChunkSize = range.Length,
        }));
        return file;
    }

    public static StorageServer Server(string name = "storage-1") => new()
    {
        ServerId = Guid.NewGuid(),
        Name = name,
        GrpcAddress = $"http://127.0.0.1:{Random.Shared.Next(20_000, 60_000)}/{Guid.NewGuid():N}",
        LastHeartbeat = DateTimeOffset.UtcNow,
    };

    public static UploadSession Session(Guid fileId, DateTimeOffset startedAt, TimeSpan timeout) => new()
    {
        SessionId = Guid.NewGuid(),
        FileId = fileId,
        ClientIp = System.Net.IPAddress.Loopback,
        StartedAt = startedAt,
        LastActivity = startedAt,
        ExpiresAt = startedAt + timeout,
    };

    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
}
