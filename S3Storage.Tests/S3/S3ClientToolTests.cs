using System.Diagnostics;
using System.Security.Cryptography;
using Amazon.S3.Model;
using S3Storage.DevCluster.Processes;
using static S3Storage.Tests.Cluster.GeneratedContent;

namespace S3Storage.Tests.S3;

/// <summary>
/// The command-line clients and SDKs people point at S3, from Debian's packages (awscli 2.9,
/// rclone 1.60, s3cmd 2.3, python3-boto3 1.26) and npm (@aws-sdk/client-s3, which streams
/// with an unsigned payload and a checksum trailer), run against the dev cluster. Each
/// compares bytes and listings, not exit codes only. <c>.ci/run</c> installs them.
/// </summary>
[Collection(S3ClusterCollection.Name)]
public sealed class S3ClientToolTests(S3ClusterFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private string Endpoint => fixture.Cluster.Gateway.Address.ToString().TrimEnd('/');

    private static string ClientsDirectory => Path.Combine(RepositoryLayout.Root, "eng", "s3-clients");

    private string Work { get; } = Directory.CreateTempSubdirectory("s3-clients-").FullName;

    private static string NewBucket(string tool) => $"{tool}-{Guid.NewGuid():N}"[..30];

    private async Task<string> RunAsync(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        Assert.True(File.Exists(program), $"{program} is not installed: .ci/run installs the S3 clients (awscli, rclone, s3cmd, python3-boto3, nodejs with npm).");
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Work };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["AWS_ACCESS_KEY_ID"] = fixture.AdminKey.AccessKeyId;
        start.Environment["AWS_SECRET_ACCESS_KEY"] = fixture.AdminKey.Secret;
        start.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        start.Environment["HOME"] = Work;
        // A CA bundle set for the machine's proxies breaks clients talking plain HTTP (rclone refuses to start).
        start.Environment.Remove("AWS_CA_BUNDLE");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Cancel);
        var stderr = process.StandardError.ReadToEndAsync(Cancel);
        await process.WaitForExitAsync(Cancel).WaitAsync(TimeSpan.FromMinutes(3), Cancel);
        output.WriteLine($"$ {Path.GetFileName(program)} {string.Join(' ', arguments)}\n{await stdout}{await stderr}");
        Assert.True(process.ExitCode == 0, $"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited {process.ExitCode}: {await stderr}");
        return await stdout;
    }

    private string WriteFile(string relative, int size, int seed)
    {
        var path = Path.Combine(Work, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Bytes(size, seed));
        return path;
    }

    private static string Md5(string path) => Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(path)));

    private async Task<List<string>> KeysAsync(string bucket)
    {
        using var s3 = fixture.Client();
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, ContinuationToken = token }, Cancel);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return keys;
    }

    [Fact]
    public async Task The_AWS_CLI_copies_a_multipart_file_syncs_a_tree_lists_and_removes()
    {
        const string aws = "/usr/bin/aws";
        var bucket = NewBucket("awscli");
        string[] endpoint = ["--endpoint-url", Endpoint];
        var big = WriteFile("big.bin", 20_000_000, 31);
        WriteFile("tree/a/one.txt", 1000, 32);
        WriteFile("tree/a/b/two.txt", 70_000, 33);
        WriteFile("tree/sp ace+plus.txt", 10, 34);

        await RunAsync(aws, ["s3", "mb", $"s3://{bucket}", .. endpoint]);
        // Above 8 MiB the CLI uploads in parts.
        await RunAsync(aws, ["s3", "cp", "--only-show-errors", big, $"s3://{bucket}/big.bin", .. endpoint]);
        await RunAsync(aws, ["s3", "cp", "--only-show-errors", $"s3://{bucket}/big.bin", Path.Combine(Work, "big.out"), .. endpoint]);
        Assert.Equal(File.ReadAllBytes(big), File.ReadAllBytes(Path.Combine(Work, "big.out")));

        await RunAsync(aws, ["s3", "sync", "--only-show-errors", Path.Combine(Work, "tree"), $"s3://{bucket}/tree", .. endpoint]);
        var listing = await RunAsync(aws, ["s3", "ls", "--recursive", $"s3://{bucket}/tree/", .. endpoint]);
        Assert.Equal(["tree/a/b/two.txt", "tree/a/one.txt", "tree/sp ace+plus.txt"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line[31..]).ToArray());

        var upload = await RunAsync(aws, ["s3api", "create-multipart-upload", "--bucket", bucket, "--key", "api/parts", "--query", "UploadId", "--output", "text", .. endpoint]);
        var uploadId = upload.Trim();
        var part = WriteFile("part1", 1234, 35);
        var etag = (await RunAsync(aws, ["s3api", "upload-part", "--bucket", bucket, "--key", "api/parts", "--upload-id", uploadId, "--part-number", "1", "--body", part, "--query", "ETag", "--output", "text", .. endpoint])).Trim();
        await RunAsync(aws, ["s3api", "complete-multipart-upload", "--bucket", bucket, "--key", "api/parts", "--upload-id", uploadId, "--multipart-upload", $"{{\"Parts\":[{{\"PartNumber\":1,\"ETag\":{etag}}}]}}", .. endpoint]);
        await RunAsync(aws, ["s3", "cp", "--only-show-errors", $"s3://{bucket}/api/parts", Path.Combine(Work, "parts.out"), .. endpoint]);
        Assert.Equal(File.ReadAllBytes(part), File.ReadAllBytes(Path.Combine(Work, "parts.out")));

        await RunAsync(aws, ["s3", "rm", "--only-show-errors", "--recursive", $"s3://{bucket}/", .. endpoint]);
        Assert.Empty(await KeysAsync(bucket));
        await RunAsync(aws, ["s3", "rb", $"s3://{bucket}", .. endpoint]);
    }

    [Fact]
    public async Task Rclone_copies_syncs_and_checks_a_tree_by_MD5()
    {
        const string rclone = "/usr/bin/rclone";
        var bucket = NewBucket("rclone");
        var remote = new Dictionary<string, string>
        {
            ["RCLONE_CONFIG_T_TYPE"] = "s3",
            ["RCLONE_CONFIG_T_PROVIDER"] = "Other",
            ["RCLONE_CONFIG_T_ACCESS_KEY_ID"] = fixture.AdminKey.AccessKeyId,
            ["RCLONE_CONFIG_T_SECRET_ACCESS_KEY"] = fixture.AdminKey.Secret,
            ["RCLONE_CONFIG_T_ENDPOINT"] = Endpoint,
            ["RCLONE_CONFIG_T_REGION"] = "us-east-1",
        };
        var tree = Path.Combine(Work, "tree");
        for (var i = 0; i < 30; i++)
        {
            WriteFile($"tree/d{i % 4}/file {i}.bin", 500 + (i * 997), 40 + i);
        }

        await RunAsync(rclone, ["mkdir", $"t:{bucket}"], remote);
        await RunAsync(rclone, ["copy", tree, $"t:{bucket}/tree"], remote);
        // check compares every file's MD5 with the ETag the store gives.
        await RunAsync(rclone, ["check", tree, $"t:{bucket}/tree"], remote);

        File.Delete(Path.Combine(tree, "d1", "file 1.bin"));
        WriteFile("tree/new/added.bin", 4321, 99);
        await RunAsync(rclone, ["sync", tree, $"t:{bucket}/tree"], remote);
        await RunAsync(rclone, ["check", tree, $"t:{bucket}/tree"], remote);
        var expected = Directory.GetFiles(tree, "*", SearchOption.AllDirectories).Select(f => "tree/" + Path.GetRelativePath(tree, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, await KeysAsync(bucket));
        var listed = await RunAsync(rclone, ["lsf", "-R", "--files-only", $"t:{bucket}/tree"], remote);
        Assert.Equal(expected.Select(k => k["tree/".Length..]).Order(StringComparer.Ordinal).ToList(), listed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToList());
    }

    [Fact]
    public async Task S3cmd_puts_gets_lists_and_deletes()
    {
        const string s3cmd = "/usr/bin/s3cmd";
        var bucket = NewBucket("s3cmd");
        var host = fixture.Cluster.Gateway.Address.Authority;
        var config = Path.Combine(Work, "s3cfg");
        await File.WriteAllTextAsync(config, $"""
            [default]
            access_key = {fixture.AdminKey.AccessKeyId}
            secret_key = {fixture.AdminKey.Secret}
            host_base = {host}
            host_bucket = {host}
            use_https = False
            signature_v2 = False
            """, Cancel);
        string[] c = ["-c", config];
        var small = WriteFile("small.txt", 2000, 51);
        var big = WriteFile("big.bin", 20_000_000, 52);

        await RunAsync(s3cmd, [.. c, "mb", $"s3://{bucket}"]);
        await RunAsync(s3cmd, [.. c, "put", small, $"s3://{bucket}/dir/small file.txt"]);
        // s3cmd cuts files above 15 MiB into parts.
        await RunAsync(s3cmd, [.. c, "put", big, $"s3://{bucket}/big.bin"]);
        var listing = await RunAsync(s3cmd, [.. c, "ls", "-r", $"s3://{bucket}"]);
        Assert.Equal([$"s3://{bucket}/big.bin", $"s3://{bucket}/dir/small file.txt"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line[(line.IndexOf("s3://", StringComparison.Ordinal))..]).ToArray());
        var top = await RunAsync(s3cmd, [.. c, "ls", $"s3://{bucket}"]);
        Assert.Contains($"DIR  s3://{bucket}/dir/", top);

        await RunAsync(s3cmd, [.. c, "get", "--force", $"s3://{bucket}/dir/small file.txt", Path.Combine(Work, "small.out")]);
        await RunAsync(s3cmd, [.. c, "get", "--force", $"s3://{bucket}/big.bin", Path.Combine(Work, "big.out")]);
        Assert.Equal(Md5(small), Md5(Path.Combine(Work, "small.out")));
        Assert.Equal(Md5(big), Md5(Path.Combine(Work, "big.out")));

        await RunAsync(s3cmd, [.. c, "del", $"s3://{bucket}/dir/small file.txt"]);
        Assert.Equal(["big.bin"], await KeysAsync(bucket));
    }

    [Fact]
    public async Task Boto3_from_Debian_puts_uploads_in_parts_lists_copies_presigns_and_deletes()
    {
        var checks = await RunAsync("/usr/bin/python3", [Path.Combine(ClientsDirectory, "boto3_check.py"), Endpoint, NewBucket("boto3"), Work]);
        // The script exits non-zero at the first FAIL; each check it makes is a line here.
        Assert.Equal(16, checks.Split('\n').Count(line => line.StartsWith("ok   ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_JavaScript_SDK_streams_with_an_unsigned_payload_and_a_checksum_trailer()
    {
        var modules = Path.Combine(ClientsDirectory, "node_modules");
        Assert.True(Directory.Exists(Path.Combine(modules, "@aws-sdk", "client-s3")), "@aws-sdk/client-s3 is not installed: npm ci --prefix eng/s3-clients (.ci/run does).");
        var checks = await RunAsync("/usr/bin/node", [Path.Combine(ClientsDirectory, "js_check.mjs"), Endpoint, NewBucket("js")], new Dictionary<string, string> { ["NODE_PATH"] = modules });
        Assert.Equal(7, checks.Split('\n').Count(line => line.StartsWith("ok   ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Malformed_and_dishonest_requests_signed_by_botocore_get_S3s_error_codes_and_leave_nothing_visible()
    {
        var bucket = NewBucket("bad");
        using (var s3 = fixture.Client())
        {
            await s3.PutBucketAsync(bucket, Cancel);
        }

        var lines = (await RunAsync("/usr/bin/python3", [Path.Combine(ClientsDirectory, "bad_requests.py"), Endpoint, bucket]))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .ToDictionary(parts => parts[0], parts => (Status: int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), Code: parts[2], Visible: parts[3] == "visible", IdsMatch: parts[4] == "ids-match"));
        var expected = new Dictionary<string, (int Status, string Code, bool Visible)>
        {
            ["wrong-trailer-checksum"] = (400, "BadDigest", false),
            ["right-trailer-checksum"] = (200, "-", true),
            ["truncated-aws-chunked"] = (400, "IncompleteBody", false),
            ["bad-chunk-signature"] = (403, "SignatureDoesNotMatch", false),
            ["sha256-mismatch"] = (400, "XAmzContentSHA256Mismatch", false),
            ["bad-content-md5"] = (400, "BadDigest", false),
            ["malformed-content-md5"] = (400, "InvalidDigest", false),
            ["complete-malformed-xml"] = (400, "MalformedXML", false),
            ["complete-no-parts"] = (400, "MalformedXML", false),
            ["complete-parts-out-of-order"] = (400, "InvalidPartOrder", false),
            ["complete-unknown-upload"] = (404, "NoSuchUpload", false),
            ["delete-objects-malformed-xml"] = (400, "MalformedXML", false),
            ["delete-objects-too-many"] = (400, "MalformedXML", false),
            ["delete-objects-dtd"] = (400, "MalformedXML", false),
            ["invalid-bucket-name"] = (400, "InvalidBucketName", false),
            ["key-over-1024-bytes"] = (400, "KeyTooLongError", false),
            ["part-number-zero"] = (400, "InvalidArgument", false),
            ["clock-skew-20-minutes"] = (403, "RequestTimeTooSkewed", false),
            ["not-implemented"] = (501, "NotImplemented", false),
            ["unsigned-request"] = (403, "AccessDenied", false),
            ["signature-v2"] = (400, "InvalidRequest", false),
            ["sigv4-on-rest-path"] = (401, "-", false),
            ["unsigned-amz-header"] = (403, "AccessDenied", false),
            // Kestrel itself refuses a NUL in the path (a bare 400); the query reaches the S3 API.
            ["nul-in-key"] = (400, "-", false),
            ["nul-in-prefix"] = (400, "InvalidArgument", false),
            ["v1-marker-before-prefix"] = (200, "-", false),
            ["list-uploads-max-zero"] = (200, "-", false),
            ["part-number-and-range"] = (400, "InvalidRequest", false),
            ["put-if-match"] = (501, "NotImplemented", false),
        };
        Assert.Equal(expected.Keys.Order(), lines.Keys.Order());
        foreach (var (name, (status, code, visible)) in expected)
        {
            Assert.True(lines[name] is var got && got.Status == status && got.Code == code && got.Visible == visible && got.IdsMatch, $"{name}: expected {status} {code} {(visible ? "visible" : "absent")}, got {lines[name]}");
        }
    }
}
