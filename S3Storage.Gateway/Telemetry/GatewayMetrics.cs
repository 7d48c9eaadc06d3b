using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace S3Storage.Gateway.Telemetry;

/// <summary>The gateway's own instruments (meter <c>S3Storage.Gateway</c>).</summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "S3Storage.Gateway";
    public const string ActivitySourceName = "S3Storage.Gateway";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    private readonly UpDownCounter<long> _activeUploads;
    private readonly UpDownCounter<long> _activeDownloads;
    private readonly Counter<long> _bytesUploaded;
    private readonly Counter<long> _bytesDownloaded;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _failovers;
    private readonly Histogram<double> _operationDuration;
    private long _activeUploadCount;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _activeUploads = Meter.CreateUpDownCounter<long>("s3storage.gateway.uploads.active", "{upload}", "Uploads in progress.");
        _activeDownloads = Meter.CreateUpDownCounter<long>("s3storage.gateway.downloads.active", "{download}", "Downloads in progress.");
        _bytesUploaded = Meter.CreateCounter<long>("s3storage.gateway.bytes.uploaded", "By", "File bytes received from clients.");
        _bytesDownloaded = Meter.CreateCounter<long>("s3storage.gateway.bytes.downloaded", "By", "File bytes sent to clients.");
        _errors = Meter.CreateCounter<long>("s3storage.gateway.errors", "{error}", "Failed operations, by kind.");
        _failovers = Meter.CreateCounter<long>("s3storage.gateway.replica.failovers", "{failover}", "Node calls that failed and moved to another replica or node.");
        _operationDuration = Meter.CreateHistogram<double>("s3storage.gateway.operation.duration", "s", "Duration of file operations, by operation and outcome.");
    }

    public Meter Meter { get; }

    public long ActiveUploads => Interlocked.Read(ref _activeUploadCount);

    public IDisposable TrackUpload()
    {
        Interlocked.Increment(ref _activeUploadCount);
        _activeUploads.Add(1);
        return new Scope(() =>
        {
            Interlocked.Decrement(ref _activeUploadCount);
            _activeUploads.Add(-1);
        });
    }

    public IDisposable TrackDownload()
    {
        _activeDownloads.Add(1);
        return new Scope(() => _activeDownloads.Add(-1));
    }

    public void BytesUploaded(long bytes) => _bytesUploaded.Add(bytes);

    public void BytesDownloaded(long bytes) => _bytesDownloaded.Add(bytes);

    public void Error(string operation, string kind) =>
        _errors.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("kind", kind));

    public void Failover(string operation) => _failovers.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public void Operation(string operation, string outcome, TimeSpan elapsed) =>
        _operationDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("outcome", outcome));

    private sealed class Scope(Action end) : IDisposable
    {
        private int _ended;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                end();
            }
        }
    }
}
