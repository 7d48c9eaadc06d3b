using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Configuration;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Gateway.Access;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Maintenance;

namespace S3Storage.Gateway.Apis;

public sealed record NodeDescription(
    Guid ServerId,
    string Name,
    string Address,
    string Status,
    bool Live,
    bool InRing,
    double? HeartbeatAgeSeconds,
    long AvailableSpace,
    long UsedSpace,
    long TotalChunks,
    long StoredCopies,
    double RingShare);

public sealed record NodeList(IReadOnlyList<NodeDescription> Nodes, int ReplicationFactor);

/// <summary>The repair backlog, this gateway's last pass, and its totals since it started (any gateway of the cluster may run a pass).</summary>
public sealed record RepairStatus(long Backlog, RepairReport LastPass, long PassesRun, long CopiesRepaired);

/// <summary>
/// The <c>/admin</c> resource, for operators: node states, draining, repair. Admin keys only.
/// </summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin").WithTags("Admin").RequireAuthorization(AccessPolicies.Admin);
        admin.MapGet("/nodes", ListNodes).WithName("ListNodes").WithSummary("Every storage node: state, heartbeat age, space, chunks, ring share.");
        admin.MapPost("/nodes/{name}/drain", DrainNode).ProducesProblem(StatusCodes.Status404NotFound).WithName("DrainNode").WithSummary("Moves a node's chunks to the nodes the ring names, then lets it go.");
        admin.MapGet("/repair", GetRepair).WithName("GetRepair").WithSummary("Repair backlog and the last pass.");
        admin.MapPost("/repair", RunRepair).WithName("RunRepair").WithSummary("Runs a repair pass now and returns its report.");
        return app;
    }

    public static async Task<Ok<NodeList>> ListNodes(MetadataDbContext db, ClusterView cluster, IOptions<StorageOptions> storage, CancellationToken cancellationToken)
    {
        var states = await new ServerRegistry(db).GetServerStatesAsync(storage.Value.NodeTimeout, cancellationToken);
        var copies = await db.ChunkReplicas.AsNoTracking()
            .Where(r => r.Status == ReplicaStatus.Stored)
            .GroupBy(r => r.ServerId)
            .Select(g => new { ServerId = g.Key, Count = g.LongCount() })
            .ToDictionaryAsync(g => g.ServerId, g => g.Count, cancellationToken);
        var snapshot = cluster.Current;
        var shares = snapshot.Ring.Shares();
        var nodes = states.Select(s => new NodeDescription(
            s.ServerId,
            s.Name,
            s.GrpcAddress,
            s.Status.ToString().ToLowerInvariant(),
            s.Live,
            snapshot.Node(s.ServerId)?.InRing ?? false,
            s.HeartbeatAge?.TotalSeconds,
            s.AvailableSpace,
            s.UsedSpace,
            s.TotalChunks,
            copies.GetValueOrDefault(s.ServerId),
            Math.Round(shares.GetValueOrDefault(s.ServerId), 4))).ToList();
        return TypedResults.Ok(new NodeList(nodes, storage.Value.ReplicationFactor));
    }

    public static async Task<Results<Accepted<NodeDescription>, ProblemHttpResult>> DrainNode(string name, MetadataDbContext db, ClusterView cluster, CancellationToken cancellationToken)
    {
        var server = await db.StorageServers.SingleOrDefaultAsync(s => s.Name == name && s.Status != ServerStatus.Inactive, cancellationToken);
        if (server is null)
        {
            return TypedResults.Problem($"No active or draining storage node is named '{name}'.", statusCode: StatusCodes.Status404NotFound, title: "Node not found");
        }

        server.Status = ServerStatus.Draining;
        await db.SaveChangesAsync(cancellationToken);
        cluster.RequestRefresh();
        return TypedResults.Accepted(
            "/admin/nodes",
            new NodeDescription(server.ServerId, server.Name, server.GrpcAddress, "draining", true, false, null, server.AvailableSpace, server.UsedSpace, server.TotalChunks, 0, 0));
    }

    public static Ok<RepairStatus> GetRepair(RepairService repair) => TypedResults.Ok(Status(repair, repair.Last));

    public static async Task<Ok<RepairStatus>> RunRepair(RepairService repair, ClusterView cluster, RingRefreshService refresh, CancellationToken cancellationToken)
    {
        // Repair must see the cluster as it is now, not as of the last periodic refresh.
        await refresh.RefreshAsync(cancellationToken);
        var report = await repair.RunPassAsync(waitForOtherGateways: true, cancellationToken);
        return TypedResults.Ok(Status(repair, report));
    }

    private static RepairStatus Status(RepairService repair, RepairReport report) =>
        new(Math.Max(0, report.UnderReplicated - report.Repaired), report, repair.PassesRun, repair.CopiesRepaired);
}
