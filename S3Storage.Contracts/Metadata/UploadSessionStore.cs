using Microsoft.EntityFrameworkCore;

namespace S3Storage.Contracts.Metadata;

/// <summary>A session the cleanup job has taken over: its file's chunks must go.</summary>
public sealed record ExpiredSession(Guid SessionId, Guid FileId);

/// <summary>Upload sessions seen by the expiry cleanup.</summary>
public sealed class UploadSessionStore(MetadataDbContext db)
{
    /// <summary>
    /// Marks active sessions whose <c>expires_at</c> has passed (database clock) as expired and
    /// returns them, in one statement: two cleanup jobs never take the same session, and a
    /// session still within its time is never touched.
    /// </summary>
    public async Task<IReadOnlyList<ExpiredSession>> ExpireOverdueAsync(int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return await db.Database.SqlQuery<ExpiredSession>($"""
            UPDATE upload_sessions AS s SET status = 'expired'
            WHERE s.session_id IN (
                SELECT session_id FROM upload_sessions
                WHERE status = 'active' AND expires_at < now()
                ORDER BY expires_at
                LIMIT {limit}
                FOR UPDATE SKIP LOCKED)
            RETURNING s.session_id AS "SessionId", s.file_id AS "FileId"
            """).ToListAsync(cancellationToken);
    }
}
