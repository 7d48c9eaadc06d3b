namespace S3Storage.StorageNode.Chunks;

/// <summary>Why a chunk operation failed; Grpc/ChunkErrorInterceptor maps each to one gRPC status.</summary>
public enum ChunkError
{
    InvalidArgument,
    NotFound,
    OutOfRange,
    DataLoss,
    Conflict,
    DiskFull,
    Draining,
    Cancelled,
    IoError,
}

public sealed class ChunkStoreException(ChunkError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public ChunkError Error { get; } = error;
}
