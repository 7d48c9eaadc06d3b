namespace S3Storage.StorageNode.Chunks;

internal static class DiskErrors
{
    private const int Enospc = 28;
    private const int Edquot = 122;
    private const int ErrorHandleDiskFull = unchecked((int)0x80070027);
    private const int ErrorDiskFull = unchecked((int)0x80070070);

    /// <summary>True when the write failed because the volume (or the user's quota) is full.</summary>
    public static bool IsDiskFull(IOException exception) =>
        exception.HResult is Enospc or Edquot or ErrorHandleDiskFull or ErrorDiskFull;
}
