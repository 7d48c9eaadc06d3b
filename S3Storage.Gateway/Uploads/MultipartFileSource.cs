using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Net.Http.Headers;
using S3Storage.Gateway.Errors;

namespace S3Storage.Gateway.Uploads;

/// <summary>
/// The <c>file</c> part of a multipart/form-data body, read in place: fields before it are
/// skipped, and it must be the last part, so its length is the Content-Length less the framing
/// read before it and the closing boundary after it. Hand-written rather than ASP.NET Core's
/// MultipartReader because that reader cannot say a part's length before reading it, and
/// chunk boundaries have to be fixed before the first byte.
/// </summary>
public sealed class MultipartFileSource : UploadSource
{
    /// <summary>Form fields before the file are read into memory; more than this is refused.</summary>
    public const int MaxPreambleBytes = 1024 * 1024;

    private const int MaxPartHeaderBytes = 16 * 1024;

    private readonly PipeReader _reader;
    private readonly byte[] _closing;
    private readonly byte[] _nextPart;
    private readonly byte[] _carry;
    private int _carryLength;

    private MultipartFileSource(PipeReader reader, string filename, string contentType, long length, byte[] closing, byte[] nextPart)
    {
        _reader = reader;
        Filename = filename;
        ContentType = contentType;
        Length = length;
        _closing = closing;
        _nextPart = nextPart;
        _carry = new byte[(nextPart.Length - 1) * 2];
    }

    public override string Filename { get; }

    public override string ContentType { get; }

    public override long Length { get; }

    /// <summary>Reads the form up to the first byte of its <c>file</c> part.</summary>
    public static async Task<MultipartFileSource> OpenAsync(PipeReader reader, string? boundary, long contentLength, long maxFileSize, CancellationToken cancellationToken)
    {
        // Content-Length is the file plus a little framing: refuse at once what cannot fit.
        if (contentLength - MaxPreambleBytes > maxFileSize)
        {
            throw TooLarge(contentLength, maxFileSize);
        }

        if (string.IsNullOrEmpty(boundary) || boundary.Length > 70)
        {
            throw Malformed("multipart/form-data needs a boundary parameter of 1 to 70 characters.");
        }

        var delimiter = Encoding.ASCII.GetBytes("--" + boundary);
        var nextPart = Encoding.ASCII.GetBytes("\r\n--" + boundary);
        var closing = Encoding.ASCII.GetBytes("\r\n--" + boundary + "--\r\n");
        long consumed = await SkipPastAsync(reader, delimiter, cancellationToken);
        while (true)
        {
            // After a delimiter: "--" ends the form, CRLF starts a part.
            var marker = await ReadExactlyAsync(reader, 2, cancellationToken);
            consumed += 2;
            if (marker is [(byte)'-', (byte)'-'])
            {
                throw Malformed("The form has no part named 'file'.");
            }

            if (marker is not [(byte)'\r', (byte)'\n'])
            {
                throw Malformed("A boundary line must end with CRLF.");
            }

            var (headers, headerBytes) = await ReadPartHeadersAsync(reader, cancellationToken);
            consumed += headerBytes;
            if (headers.GetValueOrDefault("content-disposition") is not { } disposition || !ContentDispositionHeaderValue.TryParse(disposition, out var parsed))
            {
                throw Malformed("Every part needs a Content-Disposition header.");
            }

            if (HeaderUtilities.RemoveQuotes(parsed.Name).Equals("file", StringComparison.Ordinal))
            {
                var filename = parsed.FileNameStar.HasValue ? parsed.FileNameStar.Value : HeaderUtilities.RemoveQuotes(parsed.FileName).Value;
                ValidateFilename(filename, "The 'file' part needs a filename in its Content-Disposition.");
                var contentType = headers.GetValueOrDefault("content-type") is { Length: > 0 } partType ? partType : "application/octet-stream";
                var length = contentLength - consumed - closing.Length;
                if (length < 0)
                {
                    throw Malformed("Content-Length is shorter than the form it announces.");
                }

                if (length > maxFileSize)
                {
                    throw TooLarge(length, maxFileSize);
                }

                return new MultipartFileSource(reader, filename!, contentType, length, closing, nextPart);
            }

            // Another field: skip its value up to the next delimiter.
            consumed += await SkipPastAsync(reader, nextPart, cancellationToken);
        }
    }

    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var result = await _reader.ReadAtLeastAsync(destination.Length, cancellationToken);
        var buffer = result.Buffer;
        var taken = (int)Math.Min(buffer.Length, destination.Length);
        if (taken < destination.Length && result.IsCompleted)
        {
            _reader.AdvanceTo(buffer.End);
            throw EndedEarly(taken);
        }

        buffer.Slice(0, taken).CopyTo(destination.Span);
        _reader.AdvanceTo(buffer.GetPosition(taken));
        RefuseEmbeddedDelimiter(destination.Span[..taken]);
        return taken;
    }

    /// <summary>Checks that exactly the closing boundary follows the file.</summary>
    public override async Task ReadEndAsync(CancellationToken cancellationToken)
    {
        var result = await _reader.ReadAtLeastAsync(_closing.Length + 1, cancellationToken);
        var matches = result.Buffer.Length == _closing.Length && result.Buffer.ToArray().AsSpan().SequenceEqual(_closing);
        _reader.AdvanceTo(result.Buffer.End);
        if (!matches)
        {
            throw Malformed($"The 'file' part must be the last part of the form, followed by '{Encoding.ASCII.GetString(_closing).Trim()}' and CRLF.");
        }
    }

    /// <summary>
    /// A form part ends at the first CRLF + "--" + boundary (RFC 2046 forbids it inside a part):
    /// finding one inside what Content-Length says is the file means the file part is not the
    /// last part, and its bytes would be stored with the next part's framing.
    /// </summary>
    private void RefuseEmbeddedDelimiter(ReadOnlySpan<byte> data)
    {
        var tail = _nextPart.Length - 1;
        // The delimiter may straddle two reads: check the previous read's tail joined to this head.
        var head = Math.Min(tail, data.Length);
        data[..head].CopyTo(_carry.AsSpan(_carryLength));
        if (_carry.AsSpan(0, _carryLength + head).IndexOf(_nextPart) >= 0 || data.IndexOf(_nextPart) >= 0)
        {
            throw Malformed("The 'file' part must be the last part of the form: another part follows it.");
        }

        if (data.Length >= tail)
        {
            data[^tail..].CopyTo(_carry);
            _carryLength = tail;
        }
        else
        {
            var joined = _carry.AsSpan(0, _carryLength + head).ToArray();
            var kept = Math.Min(tail, joined.Length);
            joined.AsSpan(joined.Length - kept).CopyTo(_carry);
            _carryLength = kept;
        }
    }

    /// <summary>Consumes bytes up to and including <paramref name="marker"/>; returns how many.</summary>
    private static async Task<long> SkipPastAsync(PipeReader reader, byte[] marker, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var sequence = new SequenceReader<byte>(buffer);
            if (sequence.TryReadTo(out ReadOnlySequence<byte> _, marker, advancePastDelimiter: true))
            {
                reader.AdvanceTo(sequence.Position);
                return sequence.Consumed;
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                throw Malformed("The form ended before its next boundary.");
            }

            if (buffer.Length > MaxPreambleBytes)
            {
                reader.AdvanceTo(buffer.End);
                throw Malformed($"More than {MaxPreambleBytes} bytes of form data come before the 'file' part.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count, CancellationToken cancellationToken)
    {
        var result = await reader.ReadAtLeastAsync(count, cancellationToken);
        if (result.Buffer.Length < count)
        {
            reader.AdvanceTo(result.Buffer.End);
            throw Malformed("The form ended in the middle of a boundary.");
        }

        var bytes = result.Buffer.Slice(0, count).ToArray();
        reader.AdvanceTo(result.Buffer.GetPosition(count));
        return bytes;
    }

    /// <summary>Header lines up to the empty line, names lowercased.</summary>
    private static async Task<(Dictionary<string, string> Headers, long Bytes)> ReadPartHeadersAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        var crlfCrlf = "\r\n\r\n"u8.ToArray();
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var sequence = new SequenceReader<byte>(buffer);
            if (sequence.TryReadTo(out ReadOnlySequence<byte> block, crlfCrlf, advancePastDelimiter: true))
            {
                var headers = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var line in Encoding.UTF8.GetString(block).Split("\r\n"))
                {
                    var colon = line.IndexOf(':');
                    if (colon <= 0)
                    {
                        reader.AdvanceTo(sequence.Position);
                        throw Malformed($"'{line}' is not a part header.");
                    }

                    headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
                }

                reader.AdvanceTo(sequence.Position);
                return (headers, sequence.Consumed);
            }

            if (result.IsCompleted || buffer.Length > MaxPartHeaderBytes)
            {
                reader.AdvanceTo(buffer.End);
                throw Malformed($"A part's headers did not end with an empty line within {MaxPartHeaderBytes / 1024} KiB.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static StoreException Malformed(string detail) => new(StoreFailure.InvalidRequest, "The form is malformed", detail);
}
