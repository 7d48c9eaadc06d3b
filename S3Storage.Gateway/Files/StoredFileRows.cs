using Npgsql;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Gateway.Files;

/// <summary>
/// Files with their chunks and copies, read by hand from joined rows (<see cref="Columns"/> from
/// <see cref="Joins"/>, in <see cref="Order"/>) for the reads every download starts with: EF
/// Core's query pipeline cost the gateway more CPU than the read itself.
/// </summary>
public sealed class StoredFileRows(int firstColumn)
{
    /// <summary>The file's, its chunk's and its copy's columns, 22 of them, for a statement over <c>files f</c>.</summary>
    public const string Columns = """
        f.file_id, f.filename, f.content_type, f.total_size, f.chunk_size, f.num_chunks, f.upload_status, f.checksum, f.metadata::text, f.created_at, f.updated_at, f.completed_at,
        c.chunk_id, c.chunk_number, c.chunk_size, c.chunk_hash, c.upload_status, c.uploaded_at,
        r.server_id, r.status, r.created_at, r.verified_at
        """;

    public const string Joins = """

        LEFT JOIN chunks c ON c.file_id = f.file_id
        LEFT JOIN chunk_replicas r ON r.chunk_id = c.chunk_id
        """;

    /// <summary>Rows of one chunk together, chunks in file order.</summary>
    public const string Order = "c.chunk_number, c.chunk_id, r.server_id";

    private StoredFile? _file;
    private StoredChunk? _chunk;

    /// <summary>The file the current row belongs to (the one before's, or a new one), with the row's chunk and copy added; null if the row has no file.</summary>
    public StoredFile? Read(NpgsqlDataReader reader)
    {
        var at = firstColumn;
        if (reader.IsDBNull(at))
        {
            return null;
        }

        var fileId = reader.GetGuid(at);
        if (_file?.FileId != fileId)
        {
            _chunk = null;
            _file = new StoredFile
            {
                FileId = fileId,
                Filename = reader.GetString(at + 1),
                ContentType = reader.GetString(at + 2),
                TotalSize = reader.GetInt64(at + 3),
                ChunkSize = reader.GetInt64(at + 4),
                NumChunks = reader.GetInt32(at + 5),
                UploadStatus = Parse<UploadStatus>(reader.GetString(at + 6)),
                Checksum = reader.IsDBNull(at + 7) ? null : reader.GetString(at + 7),
                Metadata = reader.IsDBNull(at + 8) ? null : reader.GetString(at + 8),
                CreatedAt = reader.GetFieldValue<DateTimeOffset>(at + 9),
                UpdatedAt = reader.GetFieldValue<DateTimeOffset>(at + 10),
                CompletedAt = reader.IsDBNull(at + 11) ? null : reader.GetFieldValue<DateTimeOffset>(at + 11),
            };
        }

        if (reader.IsDBNull(at + 12))
        {
            return _file;
        }

        var chunkId = reader.GetGuid(at + 12);
        if (_chunk?.ChunkId != chunkId)
        {
            _chunk = new StoredChunk
            {
                ChunkId = chunkId,
                FileId = fileId,
                ChunkNumber = reader.GetInt32(at + 13),
                ChunkSize = reader.GetInt64(at + 14),
                ChunkHash = reader.IsDBNull(at + 15) ? null : reader.GetString(at + 15),
                UploadStatus = Parse<UploadStatus>(reader.GetString(at + 16)),
                UploadedAt = reader.IsDBNull(at + 17) ? null : reader.GetFieldValue<DateTimeOffset>(at + 17),
            };
            _file.Chunks.Add(_chunk);
        }

        if (!reader.IsDBNull(at + 18))
        {
            _chunk.Replicas.Add(new ChunkReplica
            {
                ChunkId = chunkId,
                ServerId = reader.GetGuid(at + 18),
                Status = Parse<ReplicaStatus>(reader.GetString(at + 19)),
                CreatedAt = reader.GetFieldValue<DateTimeOffset>(at + 20),
                VerifiedAt = reader.IsDBNull(at + 21) ? null : reader.GetFieldValue<DateTimeOffset>(at + 21),
            });
        }

        return _file;
    }

    /// <summary>Statuses are stored as their lower-case names (<c>StatusColumns</c>).</summary>
    private static TEnum Parse<TEnum>(string text)
        where TEnum : struct, Enum => Enum.Parse<TEnum>(text, ignoreCase: true);
}
