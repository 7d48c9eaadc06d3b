namespace S3Storage.StorageNode.Chunks;

internal static partial class ChunkStoreLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Chunk store at {Root}: {ChunkCount} chunks, {UsedBytes} bytes; removed {RemovedTempFiles} stale temporary files")]
    public static partial void Initialized(ILogger logger, string root, long chunkCount, long usedBytes, int removedTempFiles);

    [LoggerMessage(Level = LogLevel.Information, Message = "Chunk files of {ThresholdBytes} bytes and more are written and read past the page cache (O_DIRECT)")]
    public static partial void DirectIo(ILogger logger, long thresholdBytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The data volume refused a direct write ({Reason}); every chunk file goes through the page cache")]
    public static partial void DirectIoRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Chunk {ChunkId} is corrupt (found by {FoundBy}): {Reason}")]
    public static partial void Corrupt(ILogger logger, string chunkId, string foundBy, string reason);
}
