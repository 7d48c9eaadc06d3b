using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace S3Storage.StorageNode.Telemetry;

/// <summary>The node's own instruments (meter <c>S3Storage.StorageNode</c>).</summary>
public sealed class NodeMetrics
{
    public const string MeterName = "S3Storage.StorageNode";
    public const string ActivitySourceName = "S3Storage.StorageNode";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    private readonly Counter<long> _chunksWritten;
    private readonly Counter<long> _bytesWritten;
    private readonly Counter<long> _bytesRead;
    private readonly Counter<long> _corruptChunks;
    private readonly Counter<long> _ioErrors;
    private readonly Counter<long> _scrubbedBytes;
    private readonly Histogram<double> _operationDuration;

    public NodeMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _chunksWritten = Meter.CreateCounter<long>("s3storage.node.chunks.written", "{chunk}", "Chunks stored by PutChunk.");
        _bytesWritten = Meter.CreateCounter<long>("s3storage.node.bytes.written", "By", "Chunk bytes written to disk.");
        _bytesRead = Meter.CreateCounter<long>("s3storage.node.bytes.read", "By", "Chunk bytes sent by GetChunk.");
        _corruptChunks = Meter.CreateCounter<long>("s3storage.node.chunks.corrupt", "{chunk}", "Chunks found corrupt by a read or the scrub.");
        _ioErrors = Meter.CreateCounter<long>("s3storage.node.io.errors", "{error}", "Disk errors, by kind.");
        _scrubbedBytes = Meter.CreateCounter<long>("s3storage.node.scrub.bytes", "By", "Bytes re-hashed by the scrub.");
        _operationDuration = Meter.CreateHistogram<double>("s3storage.node.operation.duration", "s", "Duration of chunk operations, by operation and outcome.");
    }

    public Meter Meter { get; }

    public void ChunkWritten(long bytes)
    {
        _chunksWritten.Add(1);
        _bytesWritten.Add(bytes);
    }

    public void BytesRead(long bytes) => _bytesRead.Add(bytes);

    public void CorruptChunk(string foundBy) => _corruptChunks.Add(1, new KeyValuePair<string, object?>("found_by", foundBy));

    public void IoError(string kind) => _ioErrors.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void Scrubbed(long bytes) => _scrubbedBytes.Add(bytes);

    public void Operation(string operation, string outcome, TimeSpan elapsed) =>
        _operationDuration.Record(
            elapsed.TotalSeconds,
            new KeyValuePair<string, object?>("operation", operation),
            new KeyValuePair<string, object?>("outcome", outcome));
}
