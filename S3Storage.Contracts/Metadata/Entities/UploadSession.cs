namespace S3Storage.Contracts.Metadata.Entities;

/// <summary>An upload in progress (table <c>upload_sessions</c>); an expired one is cleaned with its chunks.</summary>
public sealed class UploadSession
{
    public Guid SessionId { get; set; }

    public Guid FileId { get; set; }

    public System.Net.IPAddress? ClientIp { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset LastActivity { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public SessionStatus Status { get; set; } = SessionStatus.Active;

    /// <summary>Bytes of the body read so far, so progress is visible while the upload runs.</summary>
    public long BytesReceived { get; set; }

    public StoredFile? File { get; set; }
}
