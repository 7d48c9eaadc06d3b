using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;

namespace S3Storage.Gateway.S3.Signing;

/// <summary>
/// Decodes an <c>aws-chunked</c> body as it streams: <c>&lt;hex size&gt;[;chunk-signature=…]\r\n</c>,
/// the data, <c>\r\n</c>, until a zero-size chunk, then the trailing headers. Signed chunks are
/// each checked against the chain that starts at the request's signature before the next one
/// is passed on; the trailer's signature is checked at the end. No chunk is buffered whole:
/// data goes to the caller as it arrives (clients send chunks from 8 KiB to the whole body).
/// </summary>
public sealed class AwsChunkedReader(PipeReader body, SignedRequest signed)
{
    /// <summary>Longest chunk header or trailer line accepted.</summary>
    private const int MaxLineLength = 4096;

    private const int MaxTrailers = 16;

    private readonly Dictionary<string, string> _trailers = new(StringComparer.OrdinalIgnoreCase);
    private IncrementalHash? _chunkHash = signed.HasSignedChunks ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
    private string _previousSignature = signed.Signature;
    private string? _chunkSignature;
    private long _chunkRemaining;
    private bool _inChunk;
    private bool _finished;

    /// <summary>The trailing headers (lower-case names), once the body has been read to its end.</summary>
    public IReadOnlyDictionary<string, string> Trailers => _trailers;

    /// <summary>Decoded bytes; 0 only after the final chunk and the trailer were read and verified.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        while (!_finished)
        {
            if (!_inChunk)
            {
                await ReadChunkHeaderAsync(cancellationToken);
                continue;
            }

            if (_chunkRemaining == 0)
            {
                await ExpectLineEndAsync(cancellationToken);
                VerifyChunk();
                _inChunk = false;
                continue;
            }

            var result = await body.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.IsEmpty && result.IsCompleted)
            {
                throw S3Errors.IncompleteBody("The aws-chunked body ended inside a chunk.");
            }

            var taken = (int)Math.Min(Math.Min(buffer.Length, destination.Length), _chunkRemaining);
            var data = buffer.Slice(0, taken);
            data.CopyTo(destination.Span);
            if (_chunkHash is not null)
            {
                foreach (var segment in data)
                {
                    _chunkHash.AppendData(segment.Span);
                }
            }

            body.AdvanceTo(data.End);
            _chunkRemaining -= taken;
            if (taken > 0)
            {
                return taken;
            }
        }

        return 0;
    }

    private async ValueTask ReadChunkHeaderAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken);
        var semicolon = line.IndexOf(';');
        var sizeText = (semicolon < 0 ? line : line[..semicolon]).Trim();
        if (!long.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0 || sizeText.Length > 16)
        {
            throw S3Errors.IncompleteBody($"An aws-chunked chunk header is malformed: '{Printable(line)}'.");
        }

        _chunkSignature = null;
        if (semicolon >= 0)
        {
            const string prefix = "chunk-signature=";
            var extension = line[(semicolon + 1)..].Trim();
            if (extension.StartsWith(prefix, StringComparison.Ordinal))
            {
                _chunkSignature = extension[prefix.Length..];
            }
        }

        if (signed.HasSignedChunks && _chunkSignature is null)
        {
            throw S3Errors.SignatureDoesNotMatch("A chunk of a signed aws-chunked body has no chunk-signature.");
        }

        if (size > 0)
        {
            _chunkRemaining = size;
            _inChunk = true;
            return;
        }

        // The final, empty chunk: its signature closes the data chain.
        VerifyChunk();
        if (signed.HasTrailer)
        {
            await ReadTrailerAsync(cancellationToken);
        }
        else
        {
            // "0;chunk-signature=…\r\n\r\n": one empty line ends the body.
            var end = await ReadLineAsync(cancellationToken);
            if (end.Length != 0)
            {
                throw S3Errors.IncompleteBody("The aws-chunked body has bytes after its final chunk.");
            }
        }

        _finished = true;
    }

    private void VerifyChunk()
    {
        if (_chunkHash is null)
        {
            return;
        }

        var chunkSha = Convert.ToHexStringLower(_chunkHash.GetHashAndReset());
        var expected = SigV4.Sign(signed.SigningKey, SigV4.ChunkStringToSign(signed, _previousSignature, chunkSha));
        if (_chunkSignature is null || !SigV4.SignaturesMatch(expected, _chunkSignature))
        {
            throw S3Errors.SignatureDoesNotMatch("A chunk signature of the aws-chunked body does not match the data it signs.");
        }

        _previousSignature = expected;
    }

    private async ValueTask ReadTrailerAsync(CancellationToken cancellationToken)
    {
        string? trailerSignature = null;
        var signedText = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken);
            // Some clients put a bare "\n" before the final "\r\n" (Garage tolerates it too).
            if (line.Length == 0)
            {
                break;
            }

            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                throw S3Errors.IncompleteBody($"An aws-chunked trailer line is malformed: '{Printable(line)}'.");
            }

            var name = line[..colon].Trim().ToLowerInvariant();
            var value = line[(colon + 1)..].Trim();
            if (name == "x-amz-trailer-signature")
            {
                trailerSignature = value;
                continue;
            }

            if (_trailers.Count >= MaxTrailers)
            {
                throw S3Errors.InvalidRequest("The aws-chunked body has too many trailing headers.");
            }

            _trailers[name] = value;
            signedText.Append(name).Append(':').Append(value).Append('\n');
        }

        if (signed.PayloadHash == SigV4.StreamingSignedTrailer)
        {
            var trailerSha = SigV4.Sha256Hex(signedText.ToString());
            var expected = SigV4.Sign(signed.SigningKey, SigV4.TrailerStringToSign(signed, _previousSignature, trailerSha));
            if (trailerSignature is null || !SigV4.SignaturesMatch(expected, trailerSignature))
            {
                throw S3Errors.SignatureDoesNotMatch("The trailer signature of the aws-chunked body does not match its trailing headers.");
            }
        }
    }

    private async ValueTask ExpectLineEndAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken);
        if (line.Length != 0)
        {
            throw S3Errors.IncompleteBody("An aws-chunked chunk is longer than its header says.");
        }
    }

    /// <summary>One line without its CRLF (a bare LF is accepted).</summary>
    private async ValueTask<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await body.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var newline = buffer.PositionOf((byte)'\n');
            if (newline is { } end)
            {
                var lineBytes = buffer.Slice(0, end);
                if (lineBytes.Length > MaxLineLength)
                {
                    body.AdvanceTo(buffer.Start);
                    throw S3Errors.IncompleteBody("An aws-chunked header line is too long.");
                }

                var text = Encoding.Latin1.GetString(lineBytes.ToArray());
                body.AdvanceTo(buffer.GetPosition(1, end));
                return text.EndsWith('\r') ? text[..^1] : text;
            }

            if (buffer.Length > MaxLineLength)
            {
                body.AdvanceTo(buffer.Start);
                throw S3Errors.IncompleteBody("An aws-chunked header line is too long.");
            }

            if (result.IsCompleted)
            {
                body.AdvanceTo(buffer.End);
                throw S3Errors.IncompleteBody("The aws-chunked body ended before its final chunk.");
            }

            body.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static string Printable(string text) =>
        new(text.Take(64).Select(c => c is >= ' ' and < '\x7f' ? c : '?').ToArray());
}
