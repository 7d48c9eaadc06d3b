using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace S3Storage.Contracts.Metadata.Migrations
{
    /// <inheritdoc />
    public partial class S3Objects : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "buckets",
                columns: table => new
                {
                    name = table.Column<string>(type: "character varying(63)", maxLength: 63, nullable: false, collation: "C"),
                    owner_access_key_id = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_buckets", x => x.name);
                    table.CheckConstraint("ck_buckets_name", "name ~ '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'");
                });

            migrationBuilder.CreateTable(
                name: "released_blobs",
                columns: table => new
                {
                    file_id = table.Column<Guid>(type: "uuid", nullable: false),
                    released_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_released_blobs", x => x.file_id);
                    table.ForeignKey(
                        name: "fk_released_blobs_files_file_id",
                        column: x => x.file_id,
                        principalTable: "files",
                        principalColumn: "file_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "bucket_grants",
                columns: table => new
                {
                    bucket_name = table.Column<string>(type: "character varying(63)", nullable: false),
                    access_key_id = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    permission = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_bucket_grants", x => new { x.bucket_name, x.access_key_id });
                    table.CheckConstraint("ck_bucket_grants_permission", "permission IN ('read', 'write', 'owner')");
                    table.ForeignKey(
                        name: "fk_bucket_grants_buckets_bucket_name",
                        column: x => x.bucket_name,
                        principalTable: "buckets",
                        principalColumn: "name",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "multipart_uploads",
                columns: table => new
                {
                    upload_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    bucket_name = table.Column<string>(type: "character varying(63)", nullable: false),
                    key = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    initiator_access_key_id = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    content_type = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    headers = table.Column<string>(type: "jsonb", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    completed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    completed_etag = table.Column<string>(type: "character varying(48)", maxLength: 48, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_multipart_uploads", x => x.upload_id);
                    table.CheckConstraint("ck_multipart_uploads_headers", "headers IS NULL OR jsonb_typeof(headers) = 'object'");
                    table.CheckConstraint("ck_multipart_uploads_key", "octet_length(key) BETWEEN 1 AND 1024");
                    table.ForeignKey(
                        name: "fk_multipart_uploads_buckets_bucket_name",
                        column: x => x.bucket_name,
                        principalTable: "buckets",
                        principalColumn: "name",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "objects",
                columns: table => new
                {
                    object_id = table.Column<Guid>(type: "uuid", nullable: false),
                    bucket_name = table.Column<string>(type: "character varying(63)", nullable: false),
                    key = table.Column<string>(type: "text", nullable: false, collation: "C"),
                    size = table.Column<long>(type: "bigint", nullable: false),
                    etag = table.Column<string>(type: "character varying(48)", maxLength: 48, nullable: false),
                    content_type = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    headers = table.Column<string>(type: "jsonb", nullable: true),
                    last_modified = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_objects", x => x.object_id);
                    table.CheckConstraint("ck_objects_headers", "headers IS NULL OR jsonb_typeof(headers) = 'object'");
                    table.CheckConstraint("ck_objects_key", "octet_length(key) BETWEEN 1 AND 1024");
                    table.CheckConstraint("ck_objects_size", "size >= 0");
                    table.ForeignKey(
                        name: "fk_objects_buckets_bucket_name",
                        column: x => x.bucket_name,
                        principalTable: "buckets",
                        principalColumn: "name",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "multipart_parts",
                columns: table => new
                {
                    upload_id = table.Column<string>(type: "character varying(64)", nullable: false),
                    part_number = table.Column<int>(type: "integer", nullable: false),
                    file_id = table.Column<Guid>(type: "uuid", nullable: false),
                    size = table.Column<long>(type: "bigint", nullable: false),
                    etag = table.Column<string>(type: "character(32)", fixedLength: true, maxLength: 32, nullable: false),
                    uploaded_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_multipart_parts", x => new { x.upload_id, x.part_number });
                    table.CheckConstraint("ck_multipart_parts_etag", "etag ~ '^[0-9a-f]{32}$'");
                    table.CheckConstraint("ck_multipart_parts_part_number", "part_number BETWEEN 1 AND 10000");
                    table.ForeignKey(
                        name: "fk_multipart_parts_files_file_id",
                        column: x => x.file_id,
                        principalTable: "files",
                        principalColumn: "file_id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_multipart_parts_multipart_uploads_upload_id",
                        column: x => x.upload_id,
                        principalTable: "multipart_uploads",
                        principalColumn: "upload_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "object_blobs",
                columns: table => new
                {
                    object_id = table.Column<Guid>(type: "uuid", nullable: false),
                    ordinal = table.Column<int>(type: "integer", nullable: false),
                    file_id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_object_blobs", x => new { x.object_id, x.ordinal });
                    table.CheckConstraint("ck_object_blobs_ordinal", "ordinal >= 0");
                    table.ForeignKey(
                        name: "fk_object_blobs_files_file_id",
                        column: x => x.file_id,
                        principalTable: "files",
                        principalColumn: "file_id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_object_blobs_objects_object_id",
                        column: x => x.object_id,
                        principalTable: "objects",
                        principalColumn: "object_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_bucket_grants_access_key_id",
                table: "bucket_grants",
                column: "access_key_id");

            migrationBuilder.CreateIndex(
                name: "ix_multipart_parts_file_id",
                table: "multipart_parts",
                column: "file_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_multipart_uploads_bucket_name_key_created_at",
                table: "multipart_uploads",
                columns: new[] { "bucket_name", "key", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_multipart_uploads_created_at",
                table: "multipart_uploads",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "ix_object_blobs_file_id",
                table: "object_blobs",
                column: "file_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_objects_bucket_name_key",
                table: "objects",
                columns: new[] { "bucket_name", "key" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_released_blobs_released_at",
                table: "released_blobs",
                column: "released_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "bucket_grants");

            migrationBuilder.DropTable(
                name: "multipart_parts");

            migrationBuilder.DropTable(
                name: "object_blobs");

            migrationBuilder.DropTable(
                name: "released_blobs");

            migrationBuilder.DropTable(
                name: "multipart_uploads");

            migrationBuilder.DropTable(
                name: "objects");

            migrationBuilder.DropTable(
                name: "buckets");
        }
    }
}
