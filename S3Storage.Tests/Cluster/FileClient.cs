using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace S3Storage.Tests.Cluster;

public sealed record CreatedFile(
    [property: JsonPropertyName("file_id")] Guid FileId,
    [property: JsonPropertyName("filename")] string Filename,
    [property: JsonPropertyName("content_type")] string ContentType,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("chunk_count")] int ChunkCount,
    [property: JsonPropertyName("location")] string Location);

/// <summary>A body generated on the fly from a seed: any size without holding it in memory, optionally slow.</summary>
public sealed class GeneratedContent(long size, int seed, TimeSpan delayBeforeFirstByte = default, TimeSpan delayPerPiece = default, int pieceSize = 64 * 1024) : HttpContent
{
    public long BytesServed { get; private set; }

    public static string Sha256Of(long size, int seed)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var piece in Pieces(size, seed, 64 * 1024))
        {
            hash.AppendData(piece);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static byte[] Bytes(int size, int seed)
    {
        var bytes = new byte[size];
        var offset = 0;
        foreach (var piece in Pieces(size, seed, 64 * 1024))
        {
            piece.CopyTo(bytes, offset);
            offset += piece.Length;
        }

        return bytes;
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        if (delayBeforeFirstByte > TimeSpan.Zero)
        {
            await Task.Delay(delayBeforeFirstByte);
        }

        foreach (var piece in Pieces(size, seed, pieceSize))
        {
            await stream.WriteAsync(piece);
            BytesServed += piece.Length;
            if (delayPerPiece > TimeSpan.Zero)
            {
                await stream.FlushAsync();
                await Task.Delay(delayPerPiece);
            }
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = size;
        return true;
    }

    private static IEnumerable<byte[]> Pieces(long size, int seed, int pieceSize)
    {
        var random = new Random(seed);
        for (long sent = 0; sent < size; sent += pieceSize)
        {
            var piece = new byte[(int)Math.Min(pieceSize, size - sent)];
            random.NextBytes(piece);
            yield return piece;
        }
    }
}

/// <summary>The gateway's API as a test client uses it.</summary>
public static class FileClient
{
    public static async Task<CreatedFile> UploadRawAsync(HttpClient http, string filename, HttpContent content, CancellationToken cancellationToken)
    {
        content.Headers.ContentType ??= new MediaTypeHeaderValue("application/octet-stream");
        using var response = await http.PostAsync($"/files?filename={Uri.EscapeDataString(filename)}", content, cancellationToken);
        return await CreatedAsync(response, cancellationToken);
    }

    public static Task<CreatedFile> UploadRawAsync(HttpClient http, string filename, byte[] data, CancellationToken cancellationToken) =>
        UploadRawAsync(http, filename, new ByteArrayContent(data), cancellationToken);

    public static async Task<CreatedFile> UploadMultipartAsync(HttpClient http, string filename, HttpContent file, CancellationToken cancellationToken)
    {
        file.Headers.ContentType ??= new MediaTypeHeaderValue("application/octet-stream");
        using var form = new MultipartFormDataContent { { new StringContent("a field before the file"), "note" }, { file, "file", filename } };
        using var response = await http.PostAsync("/files", form, cancellationToken);
        return await CreatedAsync(response, cancellationToken);
    }

    public static async Task<byte[]> DownloadAsync(HttpClient http, Guid fileId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"/files/{fileId}", cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    /// <summary>Downloads without keeping the bytes: their SHA-256 and count.</summary>
    public static async Task<(string Sha256, long Length)> DownloadHashAsync(HttpClient http, Guid fileId, CancellationToken cancellationToken, Func<long, Task>? afterEachRead = null)
    {
        using var response = await http.GetAsync($"/files/{fileId}", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[256 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
            if (afterEachRead is not null)
            {
                await afterEachRead(total);
            }
        }

        return (Convert.ToHexStringLower(hash.GetHashAndReset()), total);
    }

    /// <summary>
    /// The gateway's /health report. It answers 503 with the same body while the database or
    /// nodes are down, which is when tests poll it; GetFromJsonAsync would throw then.
    /// </summary>
    public static async Task<JsonElement> HealthAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var health = await http.GetAsync("/health", cancellationToken);
        Assert.True(health.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"/health answered {(int)health.StatusCode}");
        return await health.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
    }

    public static async Task<JsonElement> MetadataAsync(HttpClient http, Guid fileId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"/files/{fileId}/metadata", cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
    }

    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected, CancellationToken cancellationToken)
    {
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    private static async Task<CreatedFile> CreatedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new Xunit.Sdk.XunitException($"Upload answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        var created = await response.Content.ReadFromJsonAsync<CreatedFile>(cancellationToken);
        Assert.NotNull(created);
        Assert.Equal($"/files/{created.FileId}", response.Headers.Location?.OriginalString);
        return created;
    }

    /// <summary>Reads a log a running service still writes (so opened shared).</summary>
    public static async Task<string> ReadSharedAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(file);
        return await reader.ReadToEndAsync(cancellationToken);
    }
}
