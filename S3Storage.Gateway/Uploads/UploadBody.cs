using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Net.Http.Headers;

namespace S3Storage.Gateway.Uploads;

/// <summary>An upload refused for what the client sent; becomes a problem response with <see cref="StatusCode"/>.</summary>
public sealed class UploadRejectedException(int statusCode, string title, string detail) : Exception(detail)
{
    public int StatusCode { get; } = statusCode;

    public string Title { get; } = title;
}

/// <summary>
/// The file inside an upload request, read straight from the request body: a raw body
/// (<c>?filename=</c>, size from Content-Length) or the <c>file</c> part of a multipart form.
/// Its size is known before the first byte of it is read, so chunk boundaries can be fixed.
/// </summary>
public sealed class UploadBody
{
    /// <summary>Form fields before the file are read into memory; more than this is refused.</summary>
    private const int MaxFormPreambleBytes = 1024 * 1024;

    private readonly PipeReader _reader;
    private readonly byte[]? _expectedEnd;
    private readonly byte[]? _partDelimiter;
    private readonly byte[] _carry = [];
    private int _carryLength;
    private long _remaining;

    private UploadBody(PipeReader reader, string filename, string contentType, long length, byte[]? expectedEnd, byte[]? partDelimiter)
    {
        _reader = reader;
        Filename = filename;
        ContentType = contentType;
        Length = length;
        _remaining = length;
        _expectedEnd = expectedEnd;
        _partDelimiter = partDelimiter;
        if (partDelimiter is not null)
        {
            _carry = new byte[(partDelimiter.Length - 1) * 2];
        }
    }

    public string Filename { get; }

    public string ContentType { get; }

    /// <summary>Bytes of the file itself.</summary>
    public long Length { get; }

    public long Received => Length - _remaining;

    /// <summary>
    /// Parses the request up to the first byte of the file. Throws <see cref="UploadRejectedException"/>
    /// for a request that cannot be stored (400, 411, 413), before reading the file's bytes.
    /// </summary>
    public static async Task<UploadBody> OpenAsync(HttpRequest request, long maxFileSize, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.ContentType))
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Content-Type is required",
                "Send the file as multipart/form-data (field 'file') or as a raw body with its own Content-Type and ?filename=.");
        }

        if (request.ContentLength is not { } contentLength)
        {
            throw new UploadRejectedException(StatusCodes.Status411LengthRequired, "Content-Length is required",
                "The file's size must be known before it is cut into chunks: send a Content-Length (curl -T or --data-binary do), not a chunked body.");
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType))
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "Content-Type is malformed", $"'{request.ContentType}' is not a media type.");
        }

        if (mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            // Content-Length is the file plus a little framing: refuse at once what cannot fit.
            if (contentLength - MaxFormPreambleBytes > maxFileSize)
            {
                throw TooLarge(contentLength, maxFileSize);
            }

            return await OpenMultipartAsync(request.BodyReader, mediaType, contentLength, maxFileSize, cancellationToken);
        }

        if (contentLength > maxFileSize)
        {
            throw TooLarge(contentLength, maxFileSize);
        }

        var filename = request.Query["filename"].ToString();
        ValidateFilename(filename, "Add ?filename=<name> to the URL of a raw upload.");
        return new UploadBody(request.BodyReader, filename, mediaType.ToString(), contentLength, expectedEnd: null, partDelimiter: null);
    }

    /// <summary>Reads up to <paramref name="destination"/>.Length bytes of the file; 0 only at its end.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var wanted = (int)Math.Min(destination.Length, _remaining);
        if (wanted == 0)
        {
            return 0;
        }

        var result = await _reader.ReadAtLeastAsync(wanted, cancellationToken);
        var buffer = result.Buffer;
        var taken = (int)Math.Min(buffer.Length, wanted);
        if (taken < wanted && result.IsCompleted)
        {
            _reader.AdvanceTo(buffer.End);
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "The body ended early",
                $"The body ended after {Received + taken} of the file's {Length} bytes.");
        }

        buffer.Slice(0, taken).CopyTo(destination.Span);
        _reader.AdvanceTo(buffer.GetPosition(taken));
        _remaining -= taken;
        if (_partDelimiter is not null)
        {
            RefuseEmbeddedDelimiter(destination.Span[..taken]);
        }

        return taken;
    }

    /// <summary>
    /// A form part ends at the first CRLF + "--" + boundary (RFC 2046 forbids it inside a part):
    /// finding one inside what Content-Length says is the file means the file part is not the
    /// last part, and its bytes would be stored with the next part's framing.
    /// </summary>
    private void RefuseEmbeddedDelimiter(ReadOnlySpan<byte> data)
    {
        var delimiter = _partDelimiter!;
        var tail = delimiter.Length - 1;
        // The delimiter may straddle two reads: check the previous read's tail joined to this head.
        var head = Math.Min(tail, data.Length);
        data[..head].CopyTo(_carry.AsSpan(_carryLength));
        if (_carry.AsSpan(0, _carryLength + head).IndexOf(delimiter) >= 0 || data.IndexOf(delimiter) >= 0)
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "The form is malformed",
                "The 'file' part must be the last part of the form: another part follows it.");
        }

        var keep = Math.Min(tail, data.Length);
        if (data.Length >= tail)
        {
            data[^keep..].CopyTo(_carry);
            _carryLength = keep;
        }
        else
        {
            var joined = _carry.AsSpan(0, _carryLength + head).ToArray();
            var kept = Math.Min(tail, joined.Length);
            joined.AsSpan(joined.Length - kept).CopyTo(_carry);
            _carryLength = kept;
        }
    }

    /// <summary>Checks what follows the file: for a form, exactly the closing boundary.</summary>
    public async Task ReadEndAsync(CancellationToken cancellationToken)
    {
        if (_expectedEnd is null)
        {
            return;
        }

        var result = await _reader.ReadAtLeastAsync(_expectedEnd.Length + 1, cancellationToken);
        var matches = result.Buffer.Length == _expectedEnd.Length && result.Buffer.ToArray().AsSpan().SequenceEqual(_expectedEnd);
        _reader.AdvanceTo(result.Buffer.End);
        if (!matches)
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "The form is malformed",
                $"The 'file' part must be the last part of the form, followed by '{Encoding.ASCII.GetString(_expectedEnd).Trim()}' and CRLF.");
        }
    }

    private static async Task<UploadBody> OpenMultipartAsync(PipeReader reader, MediaTypeHeaderValue mediaType, long contentLength, long maxFileSize, CancellationToken cancellationToken)
    {
        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 70)
        {
            throw Malformed("multipart/form-data needs a boundary parameter of 1 to 70 characters.");
        }

        var delimiter = Encoding.ASCII.GetBytes("--" + boundary);
        var nextPart = Encoding.ASCII.GetBytes("\r\n--" + boundary);
        var closing = Encoding.ASCII.GetBytes("\r\n--" + boundary + "--\r\n");
        long consumed = 0;

        // Preamble, then the first delimiter line.
        consumed += await SkipPastAsync(reader, delimiter, cancellationToken);
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
            var disposition = headers.GetValueOrDefault("content-disposition");
            if (disposition is null || !ContentDispositionHeaderValue.TryParse(disposition, out var parsed))
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

                return new UploadBody(reader, filename!, contentType, length, closing, nextPart);
            }

            // Another field: skip its value up to the next delimiter.
            consumed += await SkipPastAsync(reader, nextPart, cancellationToken);
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

            if (buffer.Length > MaxFormPreambleBytes)
            {
                reader.AdvanceTo(buffer.End);
                throw Malformed($"More than {MaxFormPreambleBytes} bytes of form data come before the 'file' part.");
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

            if (result.IsCompleted || buffer.Length > 16 * 1024)
            {
                reader.AdvanceTo(buffer.End);
                throw Malformed("A part's headers did not end with an empty line within 16 KiB.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static void ValidateFilename(string? filename, string whenMissing)
    {
        if (string.IsNullOrWhiteSpace(filename))
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "A filename is required", whenMissing);
        }

        if (filename.Length > 1024 || filename.Any(char.IsControl))
        {
            throw new UploadRejectedException(StatusCodes.Status400BadRequest, "The filename is not acceptable",
                "A filename has 1 to 1024 characters and no control characters.");
        }
    }

    private static UploadRejectedException Malformed(string detail) =>
        new(StatusCodes.Status400BadRequest, "The form is malformed", detail);

    private static UploadRejectedException TooLarge(long size, long maxFileSize) =>
        new(StatusCodes.Status413PayloadTooLarge, "The file is too large",
            $"The upload is {size} bytes; the largest file this store accepts is {maxFileSize} bytes.");
}
