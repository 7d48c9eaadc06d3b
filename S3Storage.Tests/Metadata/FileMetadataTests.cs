using Microsoft.EntityFrameworkCore;
using Npgsql;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Tests.Infrastructure;

namespace S3Storage.Tests.Metadata;

public sealed class FileMetadataTests(MetadataDatabase database) : IClassFixture<MetadataDatabase>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_file_is_created_with_its_generated_id_and_database_timestamps()
    {
        var file = TestRows.File();
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);

        await using (var db = database.CreateContext())
        {
            db.Files.Add(file);
            await db.SaveChangesAsync(Cancel);
        }

        await using var read = database.CreateContext();
        var stored = await read.Files.SingleAsync(f => f.FileId == file.FileId, Cancel);
        Assert.NotEqual(Guid.Empty, stored.FileId);
        Assert.Equal(7, stored.FileId.Version);
        Assert.Equal("report.pdf", stored.Filename);
        Assert.Equal(6_000_000, stored.TotalSize);
        Assert.Equal(1_000_000, stored.ChunkSize);
        Assert.Equal(6, stored.NumChunks);
        Assert.Equal(UploadStatus.Pending, stored.UploadStatus);
        Assert.InRange(stored.CreatedAt, before, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Null(stored.CompletedAt);
    }

    [Fact]
    public async Task A_duplicate_file_id_is_refused()
    {
        var file = TestRows.File();
        await using (var db = database.CreateContext())
        {
            db.Files.Add(file);
            await db.SaveChangesAsync(Cancel);
        }

        await using var again = database.CreateContext();
        again.Files.Add(new StoredFile { FileId = file.FileId, Filename = "other.bin", TotalSize = 0 });
        var error = await Assert.ThrowsAsync<DbUpdateException>(() => again.SaveChangesAsync(Cancel));
        var postgres = Assert.IsType<PostgresException>(error.InnerException);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, postgres.SqlState);
        Assert.Equal("pk_files", postgres.ConstraintName);
    }

    [Fact]
    public async Task Six_chunks_are_inserted_in_one_batch_and_read_back_in_order()
    {
        var file = TestRows.File(size: 7);
        // Insert in reverse to show the order comes from the query, not from insertion.
        file.Chunks.Reverse();
        await using (var db = database.CreateContext())
        {
            db.Files.Add(file);
            Assert.Equal(7, await db.SaveChangesAsync(Cancel));
        }

        await using var read = database.CreateContext();
        var stored = await read.Files
            .Include(f => f.Chunks.OrderBy(c => c.ChunkNumber))
            .SingleAsync(f => f.FileId == file.FileId, Cancel);
        Assert.Equal([0, 1, 2, 3, 4, 5], stored.Chunks.Select(c => c.ChunkNumber));
        Assert.Equal([1L, 1, 1, 1, 1, 2], stored.Chunks.Select(c => c.ChunkSize));
    }

    [Fact]
    public async Task An_unknown_file_is_not_found()
    {
        await using var db = database.CreateContext();
        Assert.Null(await db.Files.FindAsync([Guid.NewGuid()], Cancel));
    }

    [Fact]
    public async Task A_second_chunk_with_the_same_number_is_refused()
    {
        var file = TestRows.File();
        await using var db = database.CreateContext();
        db.Files.Add(file);
        await db.SaveChangesAsync(Cancel);

        db.Chunks.Add(new StoredChunk { ChunkId = Guid.NewGuid(), FileId = file.FileId, ChunkNumber = 3, ChunkSize = 1 });
        var error = await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync(Cancel));
        Assert.Equal("ix_chunks_file_id_chunk_number", Assert.IsType<PostgresException>(error.InnerException).ConstraintName);
    }

    [Fact]
    public async Task A_status_update_moves_updated_at_however_it_is_written()
    {
        var file = TestRows.File();
        await using var db = database.CreateContext();
        db.Files.Add(file);
        await db.SaveChangesAsync(Cancel);
        var created = file.UpdatedAt;

        file.UploadStatus = UploadStatus.Uploading;
        await db.SaveChangesAsync(Cancel);
        Assert.Equal(UploadStatus.Uploading, (await Reload(file.FileId)).UploadStatus);
        Assert.True(file.UpdatedAt > created, "SaveChanges reads back the moved updated_at");

        var afterTracked = file.UpdatedAt;
        await db.Files.Where(f => f.FileId == file.FileId)
            .ExecuteUpdateAsync(s => s.SetProperty(f => f.UploadStatus, UploadStatus.Failed), Cancel);
        var reloaded = await Reload(file.FileId);
        Assert.Equal(UploadStatus.Failed, reloaded.UploadStatus);
        Assert.True(reloaded.UpdatedAt > afterTracked, "a bulk update moves it too");
        Assert.Equal(file.CreatedAt, reloaded.CreatedAt);
    }

    [Fact]
    public async Task A_rolled_back_transaction_leaves_nothing_and_a_committed_one_keeps_everything()
    {
        var rolledBack = TestRows.File();
        var committed = TestRows.File();

        await using (var db = database.CreateContext())
        {
            var strategy = db.Database.CreateExecutionStrategy();
            await strategy.ExecuteAsync(async () =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(Cancel);
                db.Files.Add(rolledBack);
                await db.SaveChangesAsync(Cancel);
                db.UploadSessions.Add(TestRows.Session(rolledBack.FileId, DateTimeOffset.UtcNow, TimeSpan.FromHours(1)));
                await db.SaveChangesAsync(Cancel);
                await transaction.RollbackAsync(Cancel);
            });
        }

        await using (var db = database.CreateContext())
        {
            var strategy = db.Database.CreateExecutionStrategy();
            await strategy.ExecuteAsync(async () =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(Cancel);
                db.Files.Add(committed);
                await db.SaveChangesAsync(Cancel);
                db.UploadSessions.Add(TestRows.Session(committed.FileId, DateTimeOffset.UtcNow, TimeSpan.FromHours(1)));
                await db.SaveChangesAsync(Cancel);
                await transaction.CommitAsync(Cancel);
            });
        }

        await using var read = database.CreateContext();
        Assert.False(await read.Files.AnyAsync(f => f.FileId == rolledBack.FileId, Cancel));
        Assert.Equal(0, await read.Chunks.CountAsync(c => c.FileId == rolledBack.FileId, Cancel));
        Assert.Equal(0, await read.UploadSessions.CountAsync(s => s.FileId == rolledBack.FileId, Cancel));
        Assert.True(await read.Files.AnyAsync(f => f.FileId == committed.FileId, Cancel));
        Assert.Equal(6, await read.Chunks.CountAsync(c => c.FileId == committed.FileId, Cancel));
        Assert.Equal(1, await read.UploadSessions.CountAsync(s => s.FileId == committed.FileId, Cancel));
    }

    [Fact]
    public async Task Deleting_a_file_removes_its_chunks_replicas_and_sessions()
    {
        var file = TestRows.File();
        var server = TestRows.Server();
        await using (var db = database.CreateContext())
        {
            db.StorageServers.Add(server);
            db.Files.Add(file);
            foreach (var chunk in file.Chunks)
            {
                chunk.Replicas.Add(new ChunkReplica { ChunkId = chunk.ChunkId, ServerId = server.ServerId, Status = ReplicaStatus.Stored });
            }

            db.UploadSessions.Add(TestRows.Session(file.FileId, DateTimeOffset.UtcNow, TimeSpan.FromHours(1)));
            await db.SaveChangesAsync(Cancel);
        }

        await using var delete = database.CreateContext();
        Assert.Equal(1, await delete.Files.Where(f => f.FileId == file.FileId).ExecuteDeleteAsync(Cancel));

        var chunkIds = file.Chunks.Select(c => c.ChunkId).ToList();
        Assert.Equal(0, await delete.Chunks.CountAsync(c => c.FileId == file.FileId, Cancel));
        Assert.Equal(0, await delete.ChunkReplicas.CountAsync(r => chunkIds.Contains(r.ChunkId), Cancel));
        Assert.Equal(0, await delete.UploadSessions.CountAsync(s => s.FileId == file.FileId, Cancel));
        Assert.True(await delete.StorageServers.AnyAsync(s => s.ServerId == server.ServerId, Cancel));
    }

    [Fact]
    public async Task A_server_that_still_holds_replicas_cannot_be_deleted()
    {
        var file = TestRows.File();
        var server = TestRows.Server();
        await using var db = database.CreateContext();
        db.StorageServers.Add(server);
        db.Files.Add(file);
        file.Chunks[0].Replicas.Add(new ChunkReplica { ChunkId = file.Chunks[0].ChunkId, ServerId = server.ServerId });
        await db.SaveChangesAsync(Cancel);

        var error = await Assert.ThrowsAsync<PostgresException>(() =>
            db.StorageServers.Where(s => s.ServerId == server.ServerId).ExecuteDeleteAsync(Cancel));
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, error.SqlState);
    }

    [Fact]
    public async Task Ten_concurrent_writers_finish_without_deadlock()
    {
        var servers = Enumerable.Range(1, 3).Select(i => TestRows.Server($"storage-{i}")).ToList();
        await using (var db = database.CreateContext())
        {
            db.StorageServers.AddRange(servers);
            await db.SaveChangesAsync(Cancel);
        }

        // Each writer does what an upload does (file, chunks, replicas on shared servers,
        // session, status moves) while heartbeats update the same server rows.
        var writers = Enumerable.Range(0, 10).Select(async i =>
        {
            await using var db = database.CreateContext();
            var file = TestRows.File(size: 1_000 + i, filename: $"concurrent-{i}.bin");
            foreach (var chunk in file.Chunks)
            {
                chunk.Replicas.AddRange(servers
                    .Skip((chunk.ChunkNumber + i) % servers.Count).Concat(servers).Take(2)
                    .Select(s => new ChunkReplica { ChunkId = chunk.ChunkId, ServerId = s.ServerId }));
            }

            db.Files.Add(file);
            db.UploadSessions.Add(TestRows.Session(file.FileId, DateTimeOffset.UtcNow, TimeSpan.FromHours(1)));
            await db.SaveChangesAsync(Cancel);

            file.UploadStatus = UploadStatus.Uploading;
            await db.SaveChangesAsync(Cancel);
            await db.ChunkReplicas.Where(r => r.Chunk!.FileId == file.FileId)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, ReplicaStatus.Stored), Cancel);
            file.UploadStatus = UploadStatus.Completed;
            file.Checksum = TestRows.Sha256Hex(file.Filename);
            file.CompletedAt = DateTimeOffset.UtcNow;
            await db.SaveChangesAsync(Cancel);
            return file.FileId;
        }).ToList();
        var heartbeats = servers.Select(async server =>
        {
            await using var db = database.CreateContext();
            var registry = new Contracts.Metadata.ServerRegistry(db);
            for (var beat = 0; beat < 20; beat++)
            {
                Assert.True(await registry.HeartbeatAsync(server.ServerId, 1_000 - beat, beat, beat, Cancel));
            }
        });

        await Task.WhenAll(writers.Cast<Task>().Concat(heartbeats)).WaitAsync(TimeSpan.FromSeconds(60), Cancel);

        var ids = writers.Select(w => w.Result).ToList();
        await using var read = database.CreateContext();
        Assert.Equal(10, await read.Files.CountAsync(f => ids.Contains(f.FileId) && f.UploadStatus == UploadStatus.Completed, Cancel));
        Assert.Equal(120, await read.ChunkReplicas.CountAsync(r => ids.Contains(r.Chunk!.FileId) && r.Status == ReplicaStatus.Stored, Cancel));
    }

    private async Task<StoredFile> Reload(Guid fileId)
    {
        await using var db = database.CreateContext();
        return await db.Files.AsNoTracking().SingleAsync(f => f.FileId == fileId, Cancel);
    }
}
