namespace S3Storage.StorageNode.Chunks;

/// <summary>
/// A chunk between the two halves of a put (<see cref="ChunkStore.PrepareAsync"/> and
/// <see cref="ChunkStore.CommitAsync"/>): written to a temporary file and verified, or found
/// already stored (<see cref="Result"/> set, no file). Disposing it before its rename removes
/// the temporary file, so a batch refused or cancelled before its commit leaves nothing behind.
/// </summary>
public sealed class PreparedChunk : IAsyncDisposable
{
    internal PreparedChunk(ChunkDescriptor descriptor, string tempPath, FileStream file, ChunkFileHeader header, bool replacingCorrupt)
    {
        Descriptor = descriptor;
        TempPath = tempPath;
        File = file;
        Header = header;
        ReplacingCorrupt = replacingCorrupt;
    }

    private PreparedChunk(ChunkDescriptor descriptor, ChunkPutResult result)
    {
        Descriptor = descriptor;
        TempPath = "";
        Header = null!;
        Result = result;
        Renamed = true;
    }

    public ChunkDescriptor Descriptor { get; }

    /// <summary>The outcome, once the chunk is stored (or was found already stored).</summary>
    public ChunkPutResult? Result { get; internal set; }

    internal string TempPath { get; }

    internal FileStream? File { get; }

    internal ChunkFileHeader Header { get; }

    internal bool ReplacingCorrupt { get; }

    internal bool Renamed { get; set; }

    /// <summary>Bytes of the corrupt chunk file the rename replaced, for the space accounting.</summary>
    internal long ReplacedLength { get; set; }

    internal static PreparedChunk AlreadyStored(ChunkDescriptor descriptor, ChunkPutResult result) => new(descriptor, result);

    public async ValueTask DisposeAsync()
    {
        if (File is not null)
        {
            await File.DisposeAsync();
        }

        if (!Renamed)
        {
            ChunkStore.TryDelete(TempPath);
        }
    }
}
