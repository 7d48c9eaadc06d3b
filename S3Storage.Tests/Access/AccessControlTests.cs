using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using S3Storage.Contracts.Storage;
using NodeClient = S3Storage.Contracts.Storage.StorageNode.StorageNodeClient;
using S3Storage.DevCluster.Postgres;
using S3Storage.Tests.Cluster;
using static S3Storage.Tests.Cluster.FileClient;
using GrpcHealth = Grpc.Health.V1;

namespace S3Storage.Tests.Access;

/// <summary>
/// A cluster whose gateway forgets what it read about keys after a second and lets a key make
/// 20 requests a second (40 at once) and 2 uploads at a time, so limits and revocation show in
/// a test's time.
/// </summary>
public sealed class AccessClusterFixture : ClusterFixture
{
    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Access__CacheDuration"] = "00:00:01",
        ["Access__LastUsedInterval"] = "00:00:00",
        ["RateLimits__RequestsPerSecond"] = "20",
        ["RateLimits__Burst"] = "40",
        ["RateLimits__AnonymousRequestsPerSecond"] = "50",
        ["RateLimits__AnonymousBurst"] = "100",
        ["RateLimits__ConcurrentUploadsPerKey"] = "2",
    };

    protected override int NodeCount => 3;

    protected override IReadOnlyDictionary<string, string?> GatewayOverrides => Settings;
}

/// <summary>Access keys, roles, limits and the nodes' cluster credential, against the real gateway and node processes.</summary>
public sealed class AccessControlTests(AccessClusterFixture fixture) : IClassFixture<AccessClusterFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private HttpClient Admin => fixture.Http;

    [Fact]
    public async Task Without_a_key_every_endpoint_but_the_probes_answers_401_with_problem_details_and_a_challenge()
    {
        using var anonymous = fixture.Cluster.Gateway.CreateClient(token: null);

        // The gateway's own OpenAPI document lists its endpoints, so a new one is covered here
        // without anyone remembering to add it; every one of them must ask for the bearer key.
        var document = await anonymous.GetFromJsonAsync<JsonElement>("/openapi/v1.json", Cancel);
        Assert.Equal("bearer", document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer").GetProperty("scheme").GetString());
        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (
                Method: new HttpMethod(operation.Name.ToUpperInvariant()),
                Path: System.Text.RegularExpressions.Regex.Replace(path.Name, "{[^}]+}", "S3SKAAAAAAAAAAAAAAAA"),
                Operation: operation.Value)))
            .ToList();
        Assert.True(operations.Count >= 13, $"the document lists only {operations.Count} operations");
        Assert.Contains(operations, o => o.Method == HttpMethod.Post && o.Path.StartsWith("/admin/keys", StringComparison.Ordinal));
        Assert.Contains(operations, o => o.Method == HttpMethod.Delete && o.Path.StartsWith("/files/", StringComparison.Ordinal));

        // And what each can answer besides, so a client generated from it knows its errors.
        var upload = operations.Single(o => o.Method == HttpMethod.Post && o.Path.TrimEnd('/') == "/files").Operation.GetProperty("responses");
        Assert.All(new[] { "201", "400", "411", "413", "503" }, status => Assert.True(upload.TryGetProperty(status, out _), $"POST /files is documented without {status}"));

        foreach (var (method, path, operation) in operations)
        {
            Assert.True(operation.TryGetProperty("security", out _), $"{method} {path} is documented without the bearer scheme");
            Assert.True(operation.GetProperty("responses").TryGetProperty("401", out _), $"{method} {path} is documented without its 401");
            using var request = new HttpRequestMessage(method, path) { Content = method == HttpMethod.Post ? Octets([1, 2, 3]) : null };
            using var response = await anonymous.SendAsync(request, Cancel);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} answered {(int)response.StatusCode} without a key");
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            if (method != HttpMethod.Head)
            {
                await ProblemAsync(response, HttpStatusCode.Unauthorized, Cancel);
            }
        }

        // Probes stay open; /health names the nodes to admin keys only.
        using (var alive = await anonymous.GetAsync("/alive", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }

        var health = await anonymous.GetFromJsonAsync<JsonElement>("/health", Cancel);
        Assert.Equal("healthy", health.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, health.GetProperty("storage_servers").GetProperty("nodes").ValueKind);
        var adminHealth = await Admin.GetFromJsonAsync<JsonElement>("/health", Cancel);
        Assert.Equal(3, adminHealth.GetProperty("storage_servers").GetProperty("nodes").GetArrayLength());
    }

    [Fact]
    public async Task A_wrong_secret_and_an_unknown_key_are_refused_alike()
    {
        var admin = AdminToken();
        var wrongSecret = $"s3s_{admin.AccessKeyId}_{new string('A', 40)}";
        var unknownKey = $"s3s_S3SKAAAAAAAAAAAAAAAA_{admin.Secret}";

        foreach (var token in new[] { wrongSecret, unknownKey })
        {
            using var client = fixture.Cluster.Gateway.CreateClient(token);
            using var response = await client.GetAsync("/files", Cancel);
            var problem = await ProblemAsync(response, HttpStatusCode.Unauthorized, Cancel);
            Assert.Contains("does not exist or its secret is wrong", problem.GetProperty("detail").GetString());
            Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
        }
    }

    [Fact]
    public async Task A_read_only_key_reads_but_cannot_upload_delete_or_administer()
    {
        var stored = await UploadRawAsync(Admin, "for-readers.bin", GeneratedContent.Bytes(10_000, seed: 61), Cancel);
        using var reader = fixture.Cluster.Gateway.CreateClient(await CreateKeyAsync("reader", "read-only"));

        Assert.Equal(GeneratedContent.Bytes(10_000, seed: 61), await DownloadAsync(reader, stored.FileId, Cancel));
        Assert.Equal("completed", (await MetadataAsync(reader, stored.FileId, Cancel)).GetProperty("status").GetString());
        using (var list = await reader.GetAsync("/files", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        }

        using (var upload = await reader.PostAsync("/files?filename=x.bin", Octets([1, 2, 3]), Cancel))
        {
            var problem = await ProblemAsync(upload, HttpStatusCode.Forbidden, Cancel);
            Assert.Contains("read-only", problem.GetProperty("detail").GetString());
        }

        using (var delete = await reader.DeleteAsync($"/files/{stored.FileId}", Cancel))
        {
            await ProblemAsync(delete, HttpStatusCode.Forbidden, Cancel);
        }

        using (var nodes = await reader.GetAsync("/admin/nodes", Cancel))
        {
            await ProblemAsync(nodes, HttpStatusCode.Forbidden, Cancel);
        }

        // Refused means untouched.
        Assert.Equal("completed", (await MetadataAsync(Admin, stored.FileId, Cancel)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_read_write_key_uploads_and_deletes_but_cannot_reach_admin()
    {
        using var writer = fixture.Cluster.Gateway.CreateClient(await CreateKeyAsync("writer", "read-write"));

        var stored = await UploadRawAsync(writer, "written.bin", GeneratedContent.Bytes(20_000, seed: 62), Cancel);
        using (var delete = await writer.DeleteAsync($"/files/{stored.FileId}", Cancel))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        foreach (var (method, path) in new[] { (HttpMethod.Get, "/admin/keys"), (HttpMethod.Post, "/admin/repair"), (HttpMethod.Get, "/admin/nodes") })
        {
            using var response = await writer.SendAsync(new HttpRequestMessage(method, path), Cancel);
            var problem = await ProblemAsync(response, HttpStatusCode.Forbidden, Cancel);
            Assert.Contains("needs the role admin", problem.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task A_key_created_on_one_gateway_works_at_once_on_another_and_its_revocation_reaches_both()
    {
        await using var second = await fixture.Cluster.StartAnotherGatewayAsync("gateway-2", AccessClusterFixture.Settings, Cancel);
        var token = await CreateKeyAsync("roaming", "read-only");
        using var onFirst = fixture.Cluster.Gateway.CreateClient(token);
        using var onSecond = second.CreateClient(token);

        // The second gateway never saw this key, and must decrypt a secret the first encrypted.
        using (var atOnce = await onSecond.GetAsync("/files", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, atOnce.StatusCode);
        }

        using (var revoke = await Admin.DeleteAsync($"/admin/keys/{KeyId(token)}", Cancel))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        // The gateway that revoked it refuses it at once; the other once its cache (1 s here) lapses.
        using (var first = await onFirst.GetAsync("/files", Cancel))
        {
            var problem = await ProblemAsync(first, HttpStatusCode.Unauthorized, Cancel);
            Assert.Contains("was revoked", problem.GetProperty("detail").GetString());
        }

        var revokedAt = Stopwatch.StartNew();
        HttpStatusCode status;
        do
        {
            using var response = await onSecond.GetAsync("/files", Cancel);
            status = response.StatusCode;
            if (status == HttpStatusCode.OK)
            {
                await Task.Delay(100, Cancel);
            }
        }
        while (status == HttpStatusCode.OK && revokedAt.Elapsed < TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.True(revokedAt.Elapsed < TimeSpan.FromSeconds(5), $"the second gateway accepted the revoked key for {revokedAt.Elapsed.TotalSeconds:F1} s");

        var listed = (await Admin.GetFromJsonAsync<JsonElement>("/admin/keys", Cancel)).GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("access_key_id").GetString() == KeyId(token));
        Assert.NotEqual(JsonValueKind.Null, listed.GetProperty("revoked_at").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, listed.GetProperty("last_used_at").ValueKind);
    }

    [Fact]
    public async Task A_key_past_its_expiry_is_refused()
    {
        var token = await CreateKeyAsync("short-lived", "read-only", DateTimeOffset.UtcNow.AddSeconds(3));
        using var client = fixture.Cluster.Gateway.CreateClient(token);
        using (var before = await client.GetAsync("/files", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        await Task.Delay(TimeSpan.FromSeconds(4), Cancel);

        using var after = await client.GetAsync("/files", Cancel);
        var problem = await ProblemAsync(after, HttpStatusCode.Unauthorized, Cancel);
        Assert.Contains("expired", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Key_management_refuses_bad_input_and_never_lists_a_secret()
    {
        using (var badRole = await Admin.PostAsJsonAsync("/admin/keys", new { name = "x", role = "owner" }, Cancel))
        {
            var problem = await ProblemAsync(badRole, HttpStatusCode.BadRequest, Cancel);
            Assert.Contains("'owner'", problem.GetProperty("detail").GetString());
        }

        using (var noName = await Admin.PostAsJsonAsync("/admin/keys", new { role = "read-only" }, Cancel))
        {
            await ProblemAsync(noName, HttpStatusCode.BadRequest, Cancel);
        }

        using (var past = await Admin.PostAsJsonAsync("/admin/keys", new { name = "x", role = "read-only", expires_at = DateTimeOffset.UtcNow.AddMinutes(-1) }, Cancel))
        {
            await ProblemAsync(past, HttpStatusCode.BadRequest, Cancel);
        }

        using (var configured = await Admin.DeleteAsync($"/admin/keys/{AdminToken().AccessKeyId}", Cancel))
        {
            await ProblemAsync(configured, HttpStatusCode.Conflict, Cancel);
        }

        using (var unknown = await Admin.DeleteAsync("/admin/keys/S3SKAAAAAAAAAAAAAAAA", Cancel))
        {
            await ProblemAsync(unknown, HttpStatusCode.NotFound, Cancel);
        }

        using (var notAnId = await Admin.DeleteAsync("/admin/keys/hello", Cancel))
        {
            await ProblemAsync(notAnId, HttpStatusCode.BadRequest, Cancel);
        }

        var token = await CreateKeyAsync("listed", "read-write");
        var listing = await Admin.GetStringAsync("/admin/keys", Cancel);
        Assert.Contains(KeyId(token), listing);
        Assert.DoesNotContain(Secret(token), listing);
        Assert.DoesNotContain(AdminToken().Secret, listing);
    }

    [Fact]
    public async Task Secrets_are_in_no_database_row_and_no_log_in_clear()
    {
        var token = await CreateKeyAsync("dumped", "read-write");
        using (var client = fixture.Cluster.Gateway.CreateClient(token))
        using (var used = await client.GetAsync("/files", Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, used.StatusCode);
        }

        // Everything the database holds, Data Protection's key ring included.
        var dump = await PgDumpAsync();
        Assert.Contains("access_keys", dump);
        Assert.Contains("data_protection_keys", dump);
        Assert.Contains(KeyId(token), dump);
        Assert.DoesNotContain(Secret(token), dump);
        Assert.DoesNotContain(AdminToken().Secret, dump);

        foreach (var log in Directory.GetFiles(fixture.Cluster.LogDirectory))
        {
            var text = await ReadSharedAsync(log, Cancel);
            Assert.DoesNotContain(Secret(token), text);
            Assert.DoesNotContain(AdminToken().Secret, text);
        }
    }

    [Fact]
    public async Task Past_its_request_rate_a_key_gets_429_with_Retry_After_and_later_gets_through_again()
    {
        using var client = fixture.Cluster.Gateway.CreateClient(await CreateKeyAsync("busy", "read-only"));
        // Requests go in parallel batches: one at a time, a slow machine could take longer per
        // request than the bucket takes to refill, and never reach the limit.
        HttpResponseMessage? limited = null;
        for (var batch = 0; batch < 10 && limited is null; batch++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => client.GetAsync("/files?per_page=1", Cancel)));
            foreach (var response in responses)
            {
                if (response.StatusCode == HttpStatusCode.TooManyRequests && limited is null)
                {
                    limited = response;
                    continue;
                }

                Assert.Contains(response.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests });
                response.Dispose();
            }
        }

        Assert.NotNull(limited);
        using (limited)
        {
            var problem = await ProblemAsync(limited, HttpStatusCode.TooManyRequests, Cancel);
            Assert.Contains("Retry after", problem.GetProperty("detail").GetString());
            var retryAfter = limited.Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
            await Task.Delay(retryAfter.Value, Cancel);
        }

        using var again = await client.GetAsync("/files?per_page=1", Cancel);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        // Limits are per key: the admin key was not slowed by this one's flood.
        using var other = await Admin.GetAsync("/files?per_page=1", Cancel);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task A_key_runs_at_most_its_concurrent_uploads_and_the_next_one_waits_for_a_free_slot()
    {
        using var client = fixture.Cluster.Gateway.CreateClient(await CreateKeyAsync("uploader", "read-write"));
        var slow = Enumerable.Range(0, 2)
            .Select(i => new GeneratedContent(2 * 1024 * 1024, seed: 70 + i, delayPerPiece: TimeSpan.FromMilliseconds(150)))
            .ToList();
        var running = slow.Select((content, i) => UploadRawAsync(client, $"slow-{i}.bin", content, Cancel)).ToList();
        // Both hold their permits once the gateway is storing them.
        var activeUploads = 0;
        while (activeUploads < 2)
        {
            Assert.False(running.Any(upload => upload.IsCompleted), "a slow upload ended before the third was tried");
            activeUploads = (await Admin.GetFromJsonAsync<JsonElement>("/health", Cancel)).GetProperty("active_uploads").GetInt32();
            await Task.Delay(50, Cancel);
        }

        using (var third = await client.PostAsync("/files?filename=third.bin", Octets([1, 2, 3]), Cancel))
        {
            var problem = await ProblemAsync(third, HttpStatusCode.TooManyRequests, Cancel);
            Assert.Contains("at most 2 uploads", problem.GetProperty("detail").GetString());
            Assert.Equal(TimeSpan.FromSeconds(1), third.Headers.RetryAfter?.Delta);
        }

        await Task.WhenAll(running);
        var after = await UploadRawAsync(client, "after.bin", [1, 2, 3], Cancel);
        Assert.Equal(3, after.Size);
    }

    [Fact]
    public async Task A_node_refuses_chunk_calls_without_the_cluster_secret_and_still_answers_health_probes()
    {
        var node = fixture.Cluster.Nodes[0];
        var outsider = new NodeClient(node.Channel);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await outsider.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel));
        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        var wrong = await Assert.ThrowsAsync<RpcException>(async () => await outsider.DeleteChunkAsync(
            new DeleteChunkRequest { ChunkId = Guid.NewGuid().ToString("D") },
            new Grpc.Core.Metadata { { S3Storage.Contracts.Configuration.ClusterOptions.HeaderName, new string('x', 64) } },
            cancellationToken: Cancel));
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);

        // The cluster's own client gets through; the standard health probe needs nothing.
        Assert.True((await node.Client.GetStatsAsync(new GetStatsRequest(), cancellationToken: Cancel)).ChunkCount >= 0);
        var health = await new GrpcHealth.Health.HealthClient(node.Channel).CheckAsync(new GrpcHealth.HealthCheckRequest(), cancellationToken: Cancel);
        Assert.Equal(GrpcHealth.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public async Task Twenty_malformed_authorization_headers_each_get_401_with_problem_details_and_nothing_logs_an_error()
    {
        var admin = AdminToken().Value;
        string[] headers =
        [
            "",
            "   ",
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwYXNzd29yZA==",
            "Token " + admin,
            "Bearer s3s_",
            "Bearer " + admin[..^1],
            "Bearer " + admin + "A",
            "Bearer " + admin.Replace('_', '-'),
            "Bearer " + admin.ToLowerInvariant(),
            "Bearer S3S_" + admin[4..],
            "Bearer " + admin[..24] + "!" + admin[25..],
            "Bearer " + new string('s', 16 * 1024),
            "Bearer s3s_S3SKÄÖÜ" + admin[11..],
            "Bearer s3s_ключ_секрет",
            "Bearer 🔑🔑🔑",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
            "Bearer " + admin + ", Bearer " + admin,
            "Bearer\t" + admin,
        ];
        var logBefore = await ErrorLinesAsync();
        // UTF-8 on the wire, as a misconfigured client would send it.
        using var http = new HttpClient(new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.UTF8 }) { BaseAddress = fixture.Cluster.Gateway.Address };

        foreach (var header in headers)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/files");
            Assert.True(request.Headers.TryAddWithoutValidation("Authorization", header));
            using var response = await http.SendAsync(request, Cancel);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"Authorization: {Shorten(header)} answered {(int)response.StatusCode}");
            await ProblemAsync(response, HttpStatusCode.Unauthorized, Cancel);
        }

        Assert.Equal(logBefore, await ErrorLinesAsync());
    }

    private static string Shorten(string header) => header.Length > 60 ? header[..60] + "…" : header;

    private AccessKeyTokenParts AdminToken() => AccessKeyTokenParts.Parse(fixture.Cluster.AdminKey);

    private static string KeyId(string token) => AccessKeyTokenParts.Parse(token).AccessKeyId;

    private static string Secret(string token) => AccessKeyTokenParts.Parse(token).Secret;

    private async Task<string> CreateKeyAsync(string name, string role, DateTimeOffset? expiresAt = null)
    {
        using var response = await Admin.PostAsJsonAsync("/admin/keys", new { name, role, expires_at = expiresAt }, Cancel);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>(Cancel);
        var token = created.GetProperty("token").GetString()!;
        Assert.Equal($"/admin/keys/{created.GetProperty("access_key_id").GetString()}", response.Headers.Location?.OriginalString);
        Assert.Equal(token, $"s3s_{created.GetProperty("access_key_id").GetString()}_{created.GetProperty("secret_access_key").GetString()}");
        Assert.Equal(role, created.GetProperty("role").GetString());
        return token;
    }

    private async Task<string> PgDumpAsync()
    {
        var postgres = fixture.Cluster.Postgres;
        var connection = new Npgsql.NpgsqlConnectionStringBuilder(postgres.ConnectionString("metadata"));
        var start = new ProcessStartInfo(Path.Combine(PostgresBinaries.FindOrThrow(), "pg_dump"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-h", connection.Host!, "-p", connection.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", connection.Username!, connection.Database! })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PGPASSWORD"] = connection.Password;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(Cancel);
        var errors = process.StandardError.ReadToEndAsync(Cancel);
        await process.WaitForExitAsync(Cancel);
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {await errors}");
        return await output;
    }

    private async Task<int> ErrorLinesAsync()
    {
        var text = await ReadSharedAsync(Path.Combine(fixture.Cluster.LogDirectory, "gateway.log"), Cancel);
        return text.Split('\n').Count(line => line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal));
    }

    private static HttpContent Octets(byte[] bytes) => new ByteArrayContent(bytes) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } };

    /// <summary>The two halves of a token, read the way a client reads the one it was given.</summary>
    private sealed record AccessKeyTokenParts(string AccessKeyId, string Secret)
    {
        public string Value => $"s3s_{AccessKeyId}_{Secret}";

        public static AccessKeyTokenParts Parse(string token)
        {
            var parts = token.Split('_');
            Assert.Equal(3, parts.Length);
            Assert.Equal("s3s", parts[0]);
            return new AccessKeyTokenParts(parts[1], parts[2]);
        }
    }
}
