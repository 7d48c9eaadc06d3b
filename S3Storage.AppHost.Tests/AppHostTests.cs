using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;

namespace S3Storage.AppHost.Tests;

/// <summary>The whole AppHost under Aspire's test host: PostgreSQL container, six nodes, the gateway.</summary>
public sealed class AppHostTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Every_resource_comes_up_and_the_gateway_stores_and_returns_a_file()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.S3Storage_AppHost>(cancellationToken);
        await using var app = await appHost.BuildAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        await app.StartAsync(cancellationToken).WaitAsync(StartTimeout, cancellationToken);

        await app.ResourceNotifications.WaitForResourceHealthyAsync("gateway", cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        foreach (var node in Enumerable.Range(1, 6).Select(i => "storage-" + i))
        {
            await app.ResourceNotifications.WaitForResourceAsync(node, KnownResourceStates.Running, cancellationToken).WaitAsync(StartTimeout, cancellationToken);
        }

        using var http = app.CreateHttpClient("gateway");

        // Nodes register a moment after they run: wait until the gateway places on all six.
        var deadline = DateTime.UtcNow + StartTimeout;
        while ((await http.GetFromJsonAsync<JsonElement>("/health", cancellationToken)).GetProperty("storage_servers").GetProperty("live").GetInt32() < 6)
        {
            Assert.True(DateTime.UtcNow < deadline, "the gateway never saw six live storage nodes");
            await Task.Delay(500, cancellationToken);
        }

        var data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        using var content = new ByteArrayContent(data) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };
        using var upload = await http.PostAsync("/files?filename=aspire.bin", content, cancellationToken);
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var created = await upload.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), created.GetProperty("sha256").GetString());

        var fileId = created.GetProperty("file_id").GetString();
        Assert.Equal(data, await http.GetByteArrayAsync($"/files/{fileId}", cancellationToken));
    }
}
