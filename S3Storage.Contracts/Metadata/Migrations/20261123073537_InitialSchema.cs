using System;
using System.Net;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace S3Storage.Contracts.Metadata.Migrations
{
    /// <inheritdoc />
    public partial class InitialSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "files",
                columns: table => new
                {
                    file_id = table.Column<Guid>(type: "uuid", nullable: false),
                    filename = table.Column<string>(type: "text", nullable: false),
                    content_type = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    total_size = table.Column<long>(type: "bigint", nullable: false),
                    chunk_size = table.Column<long>(type: "bigint", nullable: false),
                    num_chunks = table.Column<int>(type: "integer", nullable: false),
                    upload_status = table.Column<string>(type: "text", nullable: false),
                    checksum = table.Column<string>(type: "character(64)", fixedLength: true, maxLength: 64, nullable: true),
                    metadata = table.Column<string>(type: "jsonb", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    completed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_files", x => x.file_id);
                    table.CheckConstraint("ck_files_checksum", "checksum IS NULL OR checksum ~ '^[0-9a-f]{64}$'");
                    table.CheckConstraint("ck_files_chunk_size", "chunk_size BETWEEN 0 AND total_size");
                    table.CheckConstraint("ck_files_completed", "upload_status <> 'completed' OR (checksum IS NOT NULL AND completed_at IS NOT NULL)");
                    table.CheckConstraint("ck_files_filename", "char_length(filename) BETWEEN 1 AND 1024");
                    table.CheckConstraint("ck_files_metadata", "metadata IS NULL OR jsonb_typeof(metadata) = 'object'");
                    table.CheckConstraint("ck_files_num_chunks", "num_chunks = 6");
                    table.CheckConstraint("ck_files_total_size", "total_size BETWEEN 0 AND 10737418240");
                    table.CheckConstraint("ck_files_upload_status", "upload_status IN ('pending', 'uploading', 'completed', 'failed')");
                });

            migrationBuilder.CreateTable(
                name: "storage_servers",
                columns: table => new
                {
                    server_id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    grpc_address = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    status = table.Column<string>(type: "text", nullable: false),
                    available_space = table.Column<long>(type: "bigint", nullable: false),
                    used_space = table.Column<long>(type: "bigint", nullable: false),
                    total_chunks = table.Column<long>(type: "bigint", nullable: false),
                    last_heartbeat = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    registered_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    metadata = table.Column<string>(type: "jsonb", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_storage_servers", x => x.server_id);
                    table.CheckConstraint("ck_storage_servers_available_space", "available_space >= 0");
                    table.CheckConstraint("ck_storage_servers_grpc_address", "grpc_address ~ '^https?://[^/]+'");
                    table.CheckConstraint("ck_storage_servers_metadata", "metadata IS NULL OR jsonb_typeof(metadata) = 'object'");
                    table.CheckConstraint("ck_storage_servers_name", "char_length(name) BETWEEN 1 AND 64");
                    table.CheckConstraint("ck_storage_servers_status", "status IN ('active', 'inactive', 'draining')");
                    table.CheckConstraint("ck_storage_servers_total_chunks", "total_chunks >= 0");
                    table.CheckConstraint("ck_storage_servers_used_space", "used_space >= 0");
                });

            migrationBuilder.CreateTable(
                name: "chunks",
                columns: table => new
                {
                    chunk_id = table.Column<Guid>(type: "uuid", nullable: false),
                    file_id = table.Column<Guid>(type: "uuid", nullable: false),
                    chunk_number = table.Column<int>(type: "integer", nullable: false),
                    chunk_size = table.Column<long>(type: "bigint", nullable: false),
                    chunk_hash = table.Column<string>(type: "character(64)", fixedLength: true, maxLength: 64, nullable: true),
                    upload_status = table.Column<string>(type: "text", nullable: false),
                    uploaded_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_chunks", x => x.chunk_id);
                    table.CheckConstraint("ck_chunks_chunk_hash", "chunk_hash IS NULL OR chunk_hash ~ '^[0-9a-f]{64}$'");
                    table.CheckConstraint("ck_chunks_chunk_number", "chunk_number BETWEEN 0 AND 5");
                    table.CheckConstraint("ck_chunks_chunk_size", "chunk_size >= 0");
                    table.CheckConstraint("ck_chunks_upload_status", "upload_status IN ('pending', 'uploading', 'completed', 'failed')");
                    table.ForeignKey(
                        name: "fk_chunks_files_file_id",
                        column: x => x.file_id,
                        principalTable: "files",
                        principalColumn: "file_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "upload_sessions",
                columns: table => new
                {
                    session_id = table.Column<Guid>(type: "uuid", nullable: false),
                    file_id = table.Column<Guid>(type: "uuid", nullable: false),
                    client_ip = table.Column<IPAddress>(type: "inet", nullable: true),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    last_activity = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    status = table.Column<string>(type: "text", nullable: false),
                    bytes_received = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_upload_sessions", x => x.session_id);
                    table.CheckConstraint("ck_upload_sessions_bytes_received", "bytes_received >= 0");
                    table.CheckConstraint("ck_upload_sessions_expires_at", "expires_at >= started_at");
                    table.CheckConstraint("ck_upload_sessions_last_activity", "last_activity >= started_at");
                    table.CheckConstraint("ck_upload_sessions_status", "status IN ('active', 'completed', 'expired', 'cancelled')");
                    table.ForeignKey(
                        name: "fk_upload_sessions_files_file_id",
                        column: x => x.file_id,
                        principalTable: "files",
                        principalColumn: "file_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "hash_ring_nodes",
                columns: table => new
                {
                    server_id = table.Column<Guid>(type: "uuid", nullable: false),
                    virtual_node_index = table.Column<int>(type: "integer", nullable: false),
                    hash_value = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_hash_ring_nodes", x => new { x.server_id, x.virtual_node_index });
                    table.CheckConstraint("ck_hash_ring_nodes_hash_value", "hash_value BETWEEN 0 AND 4294967295");
                    table.CheckConstraint("ck_hash_ring_nodes_virtual_node_index", "virtual_node_index >= 0");
                    table.ForeignKey(
                        name: "fk_hash_ring_nodes_storage_servers_server_id",
                        column: x => x.server_id,
                        principalTable: "storage_servers",
                        principalColumn: "server_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "chunk_replicas",
                columns: table => new
                {
                    chunk_id = table.Column<Guid>(type: "uuid", nullable: false),
                    server_id = table.Column<Guid>(type: "uuid", nullable: false),
                    status = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    verified_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_chunk_replicas", x => new { x.chunk_id, x.server_id });
                    table.CheckConstraint("ck_chunk_replicas_status", "status IN ('pending', 'stored', 'missing', 'corrupt')");
                    table.ForeignKey(
                        name: "fk_chunk_replicas_chunks_chunk_id",
                        column: x => x.chunk_id,
                        principalTable: "chunks",
                        principalColumn: "chunk_id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_chunk_replicas_storage_servers_server_id",
                        column: x => x.server_id,
                        principalTable: "storage_servers",
                        principalColumn: "server_id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_chunk_replicas_server_id_status",
                table: "chunk_replicas",
                columns: new[] { "server_id", "status" });

            migrationBuilder.CreateIndex(
                name: "ix_chunks_file_id_chunk_number",
                table: "chunks",
                columns: new[] { "file_id", "chunk_number" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_files_created_at",
                table: "files",
                column: "created_at",
                descending: new bool[0]);

            migrationBuilder.CreateIndex(
                name: "ix_files_upload_status_created_at",
                table: "files",
                columns: new[] { "upload_status", "created_at" },
                descending: new[] { false, true });

            migrationBuilder.CreateIndex(
                name: "ix_hash_ring_nodes_hash_value",
                table: "hash_ring_nodes",
                column: "hash_value");

            migrationBuilder.CreateIndex(
                name: "ix_storage_servers_grpc_address",
                table: "storage_servers",
                column: "grpc_address",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_storage_servers_name",
                table: "storage_servers",
                column: "name");

            migrationBuilder.CreateIndex(
                name: "ix_storage_servers_status_last_heartbeat",
                table: "storage_servers",
                columns: new[] { "status", "last_heartbeat" });

            migrationBuilder.CreateIndex(
                name: "ix_upload_sessions_file_id",
                table: "upload_sessions",
                column: "file_id");

            migrationBuilder.CreateIndex(
                name: "ix_upload_sessions_status_expires_at",
                table: "upload_sessions",
                columns: new[] { "status", "expires_at" });

            // "A status update moves updated_at": kept by the database, whatever statement
            // (tracked SaveChanges, ExecuteUpdate or plain SQL) updates the row.
            // clock_timestamp(), not now(): now() is frozen for the whole transaction.
            migrationBuilder.Sql("""
                CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.updated_at := clock_timestamp();
                    RETURN NEW;
                END $$;

                CREATE TRIGGER trg_files_updated_at BEFORE UPDATE ON files
                    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS trg_files_updated_at ON files;
                DROP FUNCTION IF EXISTS set_updated_at();
                """);

            migrationBuilder.DropTable(
                name: "chunk_replicas");

            migrationBuilder.DropTable(
                name: "hash_ring_nodes");

            migrationBuilder.DropTable(
                name: "upload_sessions");

            migrationBuilder.DropTable(
                name: "chunks");

            migrationBuilder.DropTable(
                name: "storage_servers");

            migrationBuilder.DropTable(
                name: "files");
        }
    }
}
