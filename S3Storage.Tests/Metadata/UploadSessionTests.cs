using Microsoft.EntityFrameworkCore;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Tests.Infrastructure;

namespace S3Storage.Tests.Metadata;

public sealed class UploadSessionTests(MetadataDatabase database) : IClassFixture<MetadataDatabase>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<(StoredFile File, UploadSession Session)> AddUploadAsync(DateTimeOffset startedAt, TimeSpan timeout)
    {
        await using var db = database.CreateContext();
        var file = TestRows.File();
        var session = TestRows.Session(file.FileId, startedAt, timeout);
        db.Files.Add(file);
        db.UploadSessions.Add(session);
        await db.SaveChangesAsync(Cancel);
        return (file, session);
    }

    [Fact]
    public async Task A_session_is_created_with_its_client_and_expiry()
    {
        var started = DateTimeOffset.UtcNow;
        var (file, session) = await AddUploadAsync(started, TimeSpan.FromHours(1));

        await using var db = database.CreateContext();
        var stored = await db.UploadSessions.AsNoTracking().SingleAsync(s => s.SessionId == session.SessionId, Cancel);
        Assert.Equal(file.FileId, stored.FileId);
        Assert.Equal(SessionStatus.Active, stored.Status);
        Assert.Equal(System.Net.IPAddress.Loopback, stored.ClientIp);
        Assert.Equal(TimeSpan.FromHours(1), stored.ExpiresAt - stored.StartedAt);
        Assert.Equal(0, stored.BytesReceived);
    }

    [Fact]
    public async Task Expiry_takes_only_overdue_active_sessions_and_cleanup_removes_their_files()
    {
        await using (var clean = database.CreateContext())
        {
            await clean.Files.ExecuteDeleteAsync(Cancel);
        }

        var now = DateTimeOffset.UtcNow;
        var overdue = await AddUploadAsync(now.AddHours(-2), TimeSpan.FromHours(1));
        var active = await AddUploadAsync(now.AddMinutes(-10), TimeSpan.FromHours(1));
        var completed = await AddUploadAsync(now.AddHours(-3), TimeSpan.FromHours(1));
        await using (var db = database.CreateContext())
        {
            await db.UploadSessions.Where(s => s.SessionId == completed.Session.SessionId)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, SessionStatus.Completed), Cancel);
        }

        await using var cleanup = database.CreateContext();
        var expired = await new UploadSessionStore(cleanup).ExpireOverdueAsync(limit: 100, Cancel);

        Assert.Equal([new ExpiredSession(overdue.Session.SessionId, overdue.File.FileId)], expired);
        var statuses = await cleanup.UploadSessions.AsNoTracking().ToDictionaryAsync(s => s.SessionId, s => s.Status, Cancel);
        Assert.Equal(SessionStatus.Expired, statuses[overdue.Session.SessionId]);
        Assert.Equal(SessionStatus.Active, statuses[active.Session.SessionId]);
        Assert.Equal(SessionStatus.Completed, statuses[completed.Session.SessionId]);

        // The cleanup job deletes the expired upload's rows once its chunks are gone from the nodes.
        await cleanup.Files.Where(f => expired.Select(e => e.FileId).Contains(f.FileId)).ExecuteDeleteAsync(Cancel);
        Assert.False(await cleanup.Files.AnyAsync(f => f.FileId == overdue.File.FileId, Cancel));
        Assert.Equal(0, await cleanup.Chunks.CountAsync(c => c.FileId == overdue.File.FileId, Cancel));
        Assert.True(await cleanup.Files.AnyAsync(f => f.FileId == active.File.FileId, Cancel));

        Assert.Empty(await new UploadSessionStore(cleanup).ExpireOverdueAsync(limit: 100, Cancel));
    }

    [Fact]
    public async Task Cleanup_jobs_running_at_once_never_take_the_same_session_and_miss_none()
    {
        await using (var clean = database.CreateContext())
        {
            await clean.Files.ExecuteDeleteAsync(Cancel);
        }

        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 40; i++)
        {
            await AddUploadAsync(now.AddHours(-2).AddSeconds(i), TimeSpan.FromHours(1));
        }

        async Task<IReadOnlyList<ExpiredSession>> Expire()
        {
            await using var db = database.CreateContext();
            return await new UploadSessionStore(db).ExpireOverdueAsync(limit: 25, Cancel);
        }

        var concurrent = await Task.WhenAll(Expire(), Expire(), Expire());
        // A job skips rows another has locked, so a last pass collects whatever was skipped.
        var afterwards = await Expire();
        var taken = concurrent.SelectMany(r => r).Concat(afterwards).Select(s => s.SessionId).ToList();

        Assert.Equal(taken.Count, taken.Distinct().Count());
        Assert.Equal(40, taken.Count);
        await using var read = database.CreateContext();
        Assert.Equal(40, await read.UploadSessions.CountAsync(s => s.Status == SessionStatus.Expired, Cancel));
        Assert.Empty(await Expire());
    }
}
