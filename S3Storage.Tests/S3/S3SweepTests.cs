using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using S3Storage.Tests.Cluster;
using static S3Storage.Tests.Cluster.FileClient;
using static S3Storage.Tests.Cluster.GeneratedContent;

namespace S3Storage.Tests.S3;

/// <summary>
/// A cluster whose S3 sweep aborts uploads older than 15 s and deletes blobs released more than
/// 1 s ago, every half second. 15 s, not less: the test uploads a part after creating the upload,
/// and with 5 s a part upload slowed by a loaded CI machine once found its upload already aborted.
/// </summary>
public sealed class S3SweepClusterFixture : ClusterFixture
{
    protected override int NodeCount => 3;

    protected override IReadOnlyDictionary<string, string?> GatewayOverrides { get; } = new Dictionary<string, string?>
    {
        ["Uploads__CleanupInterval"] = "00:00:00.500",
        ["S3__AbandonedUploadAge"] = "00:00:15",
        ["S3__ReleasedBlobGrace"] = "00:00:01",
    };
}

/// <summary>The S3 maintenance sweep, against the real gateway and PostgreSQL.</summary>
public sealed class S3SweepTests(S3SweepClusterFixture fixture) : IClassFixture<S3SweepClusterFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private AmazonS3Client Client()
    {
        var token = Contracts.Access.AccessKeyToken.TryParse(fixture.Cluster.AdminKey, out var key) ? key : throw new InvalidOperationException("no admin key");
        return new AmazonS3Client(
            new Amazon.Runtime.BasicAWSCredentials(token.AccessKeyId, token.Secret),
            new AmazonS3Config { ServiceURL = fixture.Cluster.Gateway.Address.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
    }

    private async Task<long> ScalarAsync(string sql, object? value = null)
    {
        await using var connection = new Npgsql.NpgsqlConnection(fixture.Cluster.MetadataConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        if (value is not null)
        {
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = value });
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(Cancel), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what} did not happen within 30 s.");
            await Task.Delay(250, Cancel);
        }
    }

    [Fact]
    public async Task An_abandoned_multipart_upload_is_aborted_and_its_parts_deleted_from_the_nodes()
    {
        using var s3 = Client();
        const string bucket = "sweep-uploads";
        await s3.PutBucketAsync(bucket, Cancel);
        var upload = await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = "left" }, Cancel);
        await s3.UploadPartAsync(new UploadPartRequest { BucketName = bucket, Key = "left", UploadId = upload.UploadId, PartNumber = 1, InputStream = new MemoryStream(Bytes(100_000, 61)) }, Cancel);
        var partFile = await ScalarAsync("SELECT count(*) FROM multipart_parts WHERE upload_id = $1", upload.UploadId);
        Assert.Equal(1, partFile);

        await WaitForAsync(async () => await ScalarAsync("SELECT count(*) FROM multipart_uploads WHERE upload_id = $1", upload.UploadId) == 0, "The sweep aborting the upload");
        var gone = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.ListPartsAsync(new ListPartsRequest { BucketName = bucket, Key = "left", UploadId = upload.UploadId }, Cancel));
        Assert.Equal("NoSuchUpload", gone.ErrorCode);
        // The part's blob and its chunk rows are gone too.
        await WaitForAsync(async () => await ScalarAsync("SELECT count(*) FROM files WHERE filename = 'left.part1'") == 0, "The part's blob being deleted");
    }

    [Fact]
    public async Task A_blob_released_by_a_gateway_that_died_before_deleting_it_is_deleted_by_the_sweep()
    {
        // What a gateway killed between the switch and the delete leaves: a released blob.
        var file = await UploadRawAsync(fixture.Http, "orphaned-by-crash.bin", Bytes(50_000, 62), Cancel);
        await ScalarAsync("INSERT INTO released_blobs (file_id, released_at) VALUES ($1, now()) RETURNING 1", file.FileId);

        await WaitForAsync(async () => await ScalarAsync("SELECT count(*) FROM files WHERE file_id = $1", file.FileId) == 0, "The sweep deleting the released blob");
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM released_blobs WHERE file_id = $1", file.FileId));
        using var response = await fixture.Http.GetAsync($"/files/{file.FileId}", Cancel);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
