namespace S3Storage.StorageNode.Chunks;

internal static partial class ChunkStoreLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Chunk store at {Root}: {ChunkCount} chunks, {UsedBytes} bytes; removed {RemovedTempFiles} stale temporary files")]
    public static partial void Initialized(ILogger logger, string root, long chunkCount, long usedBytes, int removedTempFiles);

    [LoggerMessage(Level = LogLevel.Error, Message = "Chunk {ChunkId} is corrupt (found by {FoundBy}): {Reason}")]
    public static partial void Corrupt(ILogger logger, string chunkId, string foundBy, string reason);
}
