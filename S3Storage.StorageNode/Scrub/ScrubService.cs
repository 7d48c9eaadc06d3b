using System.Diagnostics;
using Microsoft.Extensions.Options;
using S3Storage.StorageNode.Chunks;
using S3Storage.StorageNode.Telemetry;

namespace S3Storage.StorageNode.Scrub;

/// <summary>
/// Re-reads every chunk every <c>Node:ScrubInterval</c> (off when zero) and checks it against
/// its checksums, at most <c>Node:ScrubBytesPerSecond</c>, so bit rot is found before a
/// client needs the chunk. A corrupt chunk is marked: reads refuse it, health reports it,
/// and the next put of the same chunk replaces it.
/// </summary>
public sealed partial class ScrubService(ChunkStore store, NodeMetrics metrics, IOptions<NodeOptions> options, ILogger<ScrubService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.ScrubInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await ScrubOnceAsync(stoppingToken);
        }
    }

    private async Task ScrubOnceAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        var rate = options.Value.ScrubBytesPerSecond;
        long checkedChunks = 0, corrupt = 0, bytes = 0;

        async ValueTask Throttle(long read, CancellationToken token)
        {
            bytes += read;
            metrics.Scrubbed(read);
            if (rate > 0)
            {
                var due = TimeSpan.FromSeconds((double)bytes / rate);
                if (due > started.Elapsed)
                {
                    await Task.Delay(due - started.Elapsed, token);
                }
            }
        }

        await foreach (var entry in store.ListAsync(startAfter: null, cancellationToken))
        {
            if (store.IsKnownCorrupt(entry.Id))
            {
                continue;
            }

            try
            {
                await using var reader = await store.OpenReadAsync(entry.Id, cancellationToken);
                checkedChunks++;
                if (!await reader.VerifyAsync(Throttle, logger, cancellationToken))
                {
                    corrupt++;
                }
            }
            catch (ChunkStoreException e) when (e.Error is ChunkError.NotFound)
            {
                // Deleted while the scrub walked past it.
            }
            catch (ChunkStoreException e) when (e.Error is ChunkError.DataLoss)
            {
                store.MarkCorrupt(entry.Id, "scrub", logger, e.Message);
                corrupt++;
            }
        }

        LogPass(logger, checkedChunks, corrupt, bytes, started.Elapsed.TotalSeconds);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scrub pass: {Checked} chunks, {Corrupt} corrupt, {Bytes} bytes in {Seconds:F1} s")]
    private static partial void LogPass(ILogger logger, long @checked, long corrupt, long bytes, double seconds);
}
