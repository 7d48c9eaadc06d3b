using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace S3Storage.StorageNode.Chunks;

/// <summary>
/// <c>O_DIRECT</c> on an open file, through <c>fcntl(F_SETFL)</c>. Not every file system takes
/// it, so a store first checks its volume (<see cref="Probe"/>).
/// </summary>
internal static partial class DirectIo
{
    /// <summary>Buffer address, file offset and length multiple for direct I/O: the page size, which covers every common logical block size.</summary>
    public const int Alignment = 4096;

    /// <summary>Chunk files from this size on are written and read with <c>O_DIRECT</c>; smaller ones through the page cache.</summary>
    public const long Threshold = 1024 * 1024;

    public static int AlignUp(int length) => (length + Alignment - 1) / Alignment * Alignment;

    private const int GetFlags = 3;
    private const int SetFlags = 4;

    // O_DIRECT differs by architecture; elsewhere its value may be another flag (on arm64,
    // 040000 is O_DIRECTORY), so an unknown architecture gets no direct I/O.
    private static int? DirectFlag => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 or Architecture.S390x => 0x4000,
        Architecture.Arm64 or Architecture.Arm or Architecture.Armv6 => 0x10000,
        Architecture.Ppc64le => 0x20000,
        _ => null,
    };

    /// <summary>
    /// Writes and fsyncs one aligned block with <c>O_DIRECT</c> in <paramref name="directory"/>:
    /// null when that worked, otherwise why not.
    /// </summary>
    public static string? Probe(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "not Linux";
        }

        if (DirectFlag is null)
        {
            return $"O_DIRECT's value on {RuntimeInformation.ProcessArchitecture} is not known here";
        }

        var path = Path.Combine(directory, $"direct-io-probe.{Guid.NewGuid():N}.tmp");
        try
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
            if (!TrySet(file.SafeFileHandle))
            {
                return $"fcntl(O_DIRECT) failed or did not stick (errno {Marshal.GetLastPInvokeError()})";
            }

            RandomAccess.Write(file.SafeFileHandle, AlignedBuffer.Allocate(Alignment).Memory.Span, 0);
            file.Flush(flushToDisk: true);
            return null;
        }
        catch (Exception e)
        {
            // Whatever the reason (EINVAL, no libc, no permission), the node stays buffered.
            return $"{e.GetType().Name}: {e.Message}";
        }
        finally
        {
            ChunkStore.TryDelete(path);
        }
    }

    /// <summary>Sets <c>O_DIRECT</c> on <paramref name="handle"/>; false when the file system refuses it or the flag does not stick.</summary>
    public static bool TrySet(SafeFileHandle handle)
    {
        if (DirectFlag is not { } direct)
        {
            return false;
        }

        var flags = Fcntl(handle, GetFlags, 0);
        // F_SETFL ignores flags it does not change, so read back that this one took.
        return flags >= 0 && Fcntl(handle, SetFlags, flags | direct) == 0 && (Fcntl(handle, GetFlags, 0) & direct) != 0;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(SafeFileHandle handle, int command, nint argument);
}

/// <summary>A slice of a pinned array whose address is a multiple of <see cref="DirectIo.Alignment"/>, as direct I/O needs.</summary>
internal sealed class AlignedBuffer
{
    // Enough for the direct reads and writes of every chunk stream a busy node runs at once.
    private const int Retained = 16;

    private static readonly ConcurrentDictionary<int, ConcurrentBag<AlignedBuffer>> Pools = new();

    private AlignedBuffer(int size)
    {
        // The pinned object heap never moves an array, so the alignment found now holds.
        var array = GC.AllocateArray<byte>(size + DirectIo.Alignment, pinned: true);
        var address = (long)Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
        var offset = (int)((DirectIo.Alignment - (address % DirectIo.Alignment)) % DirectIo.Alignment);
        Memory = array.AsMemory(offset, size);
    }

    public Memory<byte> Memory { get; }

    /// <summary>A zeroed buffer of its own, not pooled: for sizes that vary.</summary>
    public static AlignedBuffer Allocate(int size) => new(size);

    /// <summary>A buffer of exactly <paramref name="size"/> bytes from the pool for that size; its content is whatever the last user left.</summary>
    public static AlignedBuffer Rent(int size) =>
        Pools.GetOrAdd(size, _ => []).TryTake(out var buffer) ? buffer : new AlignedBuffer(size);

    public void Return()
    {
        var pool = Pools.GetOrAdd(Memory.Length, _ => []);
        if (pool.Count < Retained)
        {
            pool.Add(this);
        }
    }
}
