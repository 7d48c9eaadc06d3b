using System.Collections.Concurrent;

namespace S3Storage.StorageNode.Chunks;

/// <summary>
/// Runs the blocking fsync calls of chunk writes on threads of their own. On the thread pool
/// each fsync held a pool thread for a journal commit; with dozens of small puts in flight on
/// two cores the pool ran out of threads and grew slowly, so puts waited hundreds of
/// milliseconds for a thread rather than for the disk. Here the fsyncs of concurrent puts are
/// issued together, and the file system commits them in one journal transaction.
/// </summary>
public sealed class DiskSync : IDisposable
{
    private readonly ConcurrentQueue<(Action Work, TaskCompletionSource Done)> _queue = new();
    // A kernel semaphore, not SemaphoreSlim/BlockingCollection: those spin (sched_yield) before
    // they block, and dozens of idle sync threads spinning on two cores cost more CPU than the
    // fsyncs themselves.
    private readonly Semaphore _pending = new(0, int.MaxValue);
    private readonly Thread[] _threads;
    private volatile bool _disposed;

    public DiskSync(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _threads = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"fsync-{i + 1}" };
            _threads[i].Start();
        }
    }

    /// <summary>Runs <paramref name="work"/> (an fsync) on a sync thread; its exception, if any, surfaces in the task.</summary>
    public Task RunAsync(Action work)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Enqueue((work, done));
        _pending.Release();
        return done.Task;
    }

    public void Dispose()
    {
        _disposed = true;
        _pending.Release(_threads.Length);
    }

    private void Run()
    {
        while (true)
        {
            _pending.WaitOne();
            if (!_queue.TryDequeue(out var item))
            {
                if (_disposed)
                {
                    return;
                }

                continue;
            }

            try
            {
                item.Work();
                item.Done.SetResult();
            }
            catch (Exception e)
            {
                item.Done.SetException(e);
            }
        }
    }
}
