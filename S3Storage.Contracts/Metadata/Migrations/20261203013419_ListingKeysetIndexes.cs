using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace S3Storage.Contracts.Metadata.Migrations
{
    /// <inheritdoc />
    public partial class ListingKeysetIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_files_created_at",
                table: "files");

            migrationBuilder.DropIndex(
                name: "ix_files_upload_status_created_at",
                table: "files");

            migrationBuilder.CreateIndex(
                name: "ix_files_created_at_file_id",
                table: "files",
                columns: new[] { "created_at", "file_id" },
                descending: new bool[0]);

            migrationBuilder.CreateIndex(
                name: "ix_files_upload_status_created_at_file_id",
                table: "files",
                columns: new[] { "upload_status", "created_at", "file_id" },
                descending: new[] { false, true, true });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_files_created_at_file_id",
                table: "files");

            migrationBuilder.DropIndex(
                name: "ix_files_upload_status_created_at_file_id",
                table: "files");

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
        }
    }
}
