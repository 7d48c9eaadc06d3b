namespace S3Storage.AppHost.Tests;

/// <summary>
/// The start-up log check of <see cref="RunningClusterTests{TFixture}"/> flags what it should,
/// on lines as the orchestrator records them (timestamp, then the process's own line).
/// </summary>
public sealed class StartupLogCheckTests
{
    private static readonly ProjectResource Service = new("storage-1");
    private static readonly ContainerResource PostgresContainer = new("postgres");

    [Theory]
    [InlineData("2026-12-02T13:34:03.4240000Z fail: S3Storage.Gateway.Uploads.FileUploader[12]", false, true)]
    [InlineData("2026-12-02T13:34:03.4240000Z \u001b[41m\u001b[30mcrit\u001b[39m\u001b[22m\u001b[49m: Microsoft.Hosting.Lifetime[0]", false, true)]
    [InlineData("2026-12-02T13:34:03.4240000Z Unhandled exception. System.InvalidOperationException: boom", true, true)]
    [InlineData("2026-12-02T13:34:03.4240000Z info: S3Storage.StorageNode.Grpc.ChunkErrorInterceptor[1549231952]", false, false)]
    [InlineData("2026-12-02T13:34:03.4240000Z       Error status code 'Cancelled' with detail 'The caller went away' raised.", false, false)]
    [InlineData("2026-12-02T13:34:03.4240000Z warn: S3Storage.Contracts.Metadata.ServerRegistry[3]", false, false)]
    public void A_service_line_is_an_error_at_error_level_or_on_standard_error(string content, bool standardError, bool expected) =>
        Assert.Equal(expected, AppHostFixture.IsError(Service, new LogLine(1, content, standardError)));

    [Theory]
    [InlineData("2026-12-02T13:21:21.1488569Z 2026-12-02 13:21:21.133 UTC [33] FATAL:  database \"metadata\" does not exist", true)]
    [InlineData("2026-12-02T13:38:45.3492656Z 2026-12-02 13:38:45.348 UTC [46] ERROR:  database \"metadata\" already exists", true)]
    [InlineData("2026-12-02T13:18:23.5580000Z 2026-12-02 13:18:23.558 UTC [41] LOG:  database system is ready to accept connections", false)]
    [InlineData("2026-12-03T23:00:05.2356720Z 2026-12-03 23:00:05.217 UTC [44] FATAL:  the database system is starting up", false)]
    [InlineData("2026-12-03T23:00:05.2356720Z 2026-12-03 23:00:05.217 UTC [44] FATAL:  the database system is shutting down", true)]
    public void A_PostgreSQL_line_is_an_error_at_ERROR_FATAL_or_PANIC_whatever_stream_it_came_on(string content, bool expected) =>
        Assert.Equal(expected, AppHostFixture.IsError(PostgresContainer, new LogLine(1, content, IsErrorMessage: true)));
}
