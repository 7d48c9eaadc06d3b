using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace S3Storage.AppHost.Tests;

/// <summary>
/// The cluster as `dotnet run --project S3Storage.AppHost` brings it up, in one database setup
/// per subclass. The AppHosts start one after the other: two at once would share two cores.
/// </summary>
[Collection(nameof(AppHostCollection))]
public abstract class RunningClusterTests<TFixture>(TFixture fixture)
    where TFixture : AppHostFixture
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private void SkipWhenTheSetupCannotRun()
    {
        if (fixture.SkipReason is { } reason)
        {
            Assert.Skip(reason);
        }
    }

    [Fact]
    public void Every_resource_becomes_healthy_and_none_logs_an_error_while_starting()
    {
        SkipWhenTheSetupCannotRun();
        var model = fixture.App.Services.GetRequiredService<DistributedApplicationModel>();
        var resources = model.Resources.Where(r => AppHostFixture.WatchedResources.Contains(r.Name)).ToList();
        Assert.Equal(AppHostFixture.WatchedResources.Order(), resources.Select(r => r.Name).Order());

        // Healthy was awaited for each one by the fixture; the log lines show what it took.
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"every resource healthy and six nodes live {fixture.TimeToHealthy.TotalSeconds:F0} s after the AppHost started");
        // With the lines after each one: the console formatter puts the message and the
        // exception on the lines below the "fail:" header.
        var errors = resources
            .SelectMany(resource =>
            {
                var lines = fixture.StartupLogs.GetValueOrDefault(resource.Name, []);
                return lines.Select((line, index) => (line, index))
                    .Where(entry => AppHostFixture.IsError(resource, entry.line))
                    .Select(entry => $"{resource.Name}: " + string.Join("\n    ", lines.Skip(entry.index).Take(4).Select(line => line.Content)));
            })
            .ToList();
        Assert.True(errors.Count == 0, "errors logged while starting:\n" + string.Join('\n', errors.Take(20)));

        // The recording works: every service said something while it started.
        Assert.All(resources.OfType<ProjectResource>(), project => Assert.NotEmpty(fixture.StartupLogs.GetValueOrDefault(project.Name, [])));
    }

    [Fact]
    public async Task A_file_uploaded_through_the_gateway_resource_comes_back_byte_for_byte()
    {
        SkipWhenTheSetupCannotRun();
        using var http = fixture.CreateGatewayClient();
        var data = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);

        var fileId = await UploadAsync(http, data, "aspire.bin");

        Assert.Equal(data, await http.GetByteArrayAsync($"/files/{fileId}", Cancel));
    }

    [Fact]
    public async Task The_gateway_resource_wants_the_admin_key_parameter_and_no_other()
    {
        SkipWhenTheSetupCannotRun();
        using var anonymous = fixture.App.CreateHttpClient("gateway");
        using (var refused = await anonymous.GetAsync("/files", Cancel))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3s_S3SKAAAAAAAAAAAAAAAA_" + new string('a', 40));
        using (var wrong = await anonymous.GetAsync("/files", Cancel))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var admin = fixture.CreateGatewayClient();
        using var keys = await admin.GetAsync("/admin/keys", Cancel);
        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
    }

    [Fact]
    public async Task A_node_stopped_with_its_resource_command_loses_no_file_and_comes_back_healthy()
    {
        SkipWhenTheSetupCannotRun();
        using var http = fixture.CreateGatewayClient();
        var files = new Dictionary<string, byte[]>();
        for (var i = 0; i < 4; i++)
        {
            var data = RandomNumberGenerator.GetBytes(1024 * 1024 + i * 4099);
            files[await UploadAsync(http, data, $"before-stop-{i}.bin")] = data;
        }

        const string Victim = "storage-3";
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        var stopped = await fixture.App.ResourceCommands.ExecuteCommandAsync(Victim, KnownResourceCommands.StopCommand, Cancel);
        Assert.True(stopped.Success, $"{stopped.Message} after {stopping.Elapsed}:\n{fixture.LogTail(Victim)}");
        await fixture.App.ResourceNotifications.WaitForResourceAsync(
            Victim, e => e.Snapshot.State?.Text is { } state && (state == KnownResourceStates.Exited || state == KnownResourceStates.Finished), Cancel)
            .WaitAsync(AppHostFixture.StartTimeout, Cancel);

        // Every chunk has a second copy: each file still comes back whole, at once and after the
        // gateway has seen the node go. New files are placed on the nodes that are left, even
        // before the gateway has noticed (a call to the stopped node fails, and the next node
        // on the ring takes the chunk).
        await AssertEveryFileComesBackAsync(http, files);
        var whileStopped = RandomNumberGenerator.GetBytes(1024 * 1024 + 333);
        files[await UploadAsync(http, whileStopped, "while-stopped.bin")] = whileStopped;
        await fixture.WaitForLiveNodesAsync(AppHostFixture.NodeNames.Length - 1, Cancel);
        await AssertEveryFileComesBackAsync(http, files);

        var started = await fixture.App.ResourceCommands.ExecuteCommandAsync(Victim, KnownResourceCommands.StartCommand, Cancel);
        Assert.True(started.Success, started.Message);
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync(Victim, Cancel).WaitAsync(AppHostFixture.StartTimeout, Cancel);
        await fixture.WaitForLiveNodesAsync(AppHostFixture.NodeNames.Length, Cancel);

        await AssertEveryFileComesBackAsync(http, files);
        var after = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        Assert.Equal(after, await http.GetByteArrayAsync($"/files/{await UploadAsync(http, after, "after-start.bin")}", Cancel));
    }

    private static async Task AssertEveryFileComesBackAsync(HttpClient http, Dictionary<string, byte[]> files)
    {
        foreach (var (fileId, data) in files)
        {
            Assert.Equal(data, await http.GetByteArrayAsync($"/files/{fileId}", Cancel));
        }
    }

    private static async Task<string> UploadAsync(HttpClient http, byte[] data, string name)
    {
        using var content = new ByteArrayContent(data) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };
        using var upload = await http.PostAsync($"/files?filename={name}", content, Cancel);
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var created = await upload.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), created.GetProperty("sha256").GetString());
        return created.GetProperty("file_id").GetString()!;
    }
}

[CollectionDefinition(nameof(AppHostCollection))]
public sealed class AppHostCollection;

/// <summary>Where no container runtime is: the machine's PostgreSQL server binaries as an Aspire resource.</summary>
public sealed class LocalPostgresClusterTests(LocalPostgresAppHost fixture)
    : RunningClusterTests<LocalPostgresAppHost>(fixture), IClassFixture<LocalPostgresAppHost>;

/// <summary>With a container runtime: PostgreSQL as a container, as on a developer's machine with Docker.</summary>
public sealed class ContainerPostgresClusterTests(ContainerPostgresAppHost fixture)
    : RunningClusterTests<ContainerPostgresAppHost>(fixture), IClassFixture<ContainerPostgresAppHost>;
