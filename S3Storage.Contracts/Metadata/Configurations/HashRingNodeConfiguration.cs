using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using S3Storage.Contracts.Metadata.Entities;

namespace S3Storage.Contracts.Metadata.Configurations;

internal sealed class HashRingNodeConfiguration : IEntityTypeConfiguration<HashRingNode>
{
    public void Configure(EntityTypeBuilder<HashRingNode> node)
    {
        node.ToTable("hash_ring_nodes", table =>
        {
            table.HasCheckConstraint("ck_hash_ring_nodes_virtual_node_index", "virtual_node_index >= 0");
            table.HasCheckConstraint("ck_hash_ring_nodes_hash_value", $"hash_value BETWEEN 0 AND {uint.MaxValue}");
        });

        // Unique per server: a server's i-th point exists once.
        node.HasKey(n => new { n.ServerId, n.VirtualNodeIndex });
        node.HasIndex(n => n.HashValue);
    }
}
