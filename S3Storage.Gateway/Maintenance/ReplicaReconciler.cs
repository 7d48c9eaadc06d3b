using System.Diagnostics.Metrics;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Metadata;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Storage;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Telemetry;

namespace S3Storage.Gateway.Maintenance;

/// <summary>
/// Reconciliation and orphan collection: brings the rows in line with what each node really
/// holds (<c>Repair:CollectOrphans</c> switches the deleting off; metric
/// <c>s3storage.gateway.repair.orphans</c>).
/// </summary>
public sealed partial class ReplicaReconciler(
    NodeClients clients,
    ChunkRemover remover,
    GatewayMetrics metrics,
    IOptions<RepairOptions> options,
    ILogger<ReplicaReconciler> logger)
{
    private static readonly TimeSpan ListingClockMargin = TimeSpan.FromSeconds(2);

    private readonly Counter<long> _orphans = metrics.Meter.CreateCounter<long>("s3storage.gateway.repair.orphans", "{chunk}", "Orphan chunk files deleted from nodes.");

    /// <summary>
    /// Compares what a node holds with what the rows say it holds, as a merge of two lists in
    /// chunk id order: the node's listing, streamed, and its rows, a page at a time. A row
    /// whose stored copy the node lacks is marked missing; a chunk file older than the grace
    /// period that no row refers to is deleted as an orphan. Memory stays at a page of rows and
    /// a page of findings, however many chunks the node holds.
    /// </summary>
    public async Task ReconcileAsync(MetadataDbContext db, NodeInfo node, RepairPass pass, CancellationToken cancellationToken)
    {
        var pageSize = options.Value.PageSize;
        var graceLimit = DateTimeOffset.UtcNow - options.Value.OrphanGracePeriod;
        var missing = new List<Guid>();
        var orphans = new List<Guid>();
        // Rows are read while the listing streams, so a copy stored after the node listed past
        // its id can have a stored row by the time its page is read: only copies confirmed
        // before the listing began are held to it (with a margin for the clocks of other
        // gateways); a later one is checked at the next pass.
        var listingStarted = DateTimeOffset.UtcNow - ListingClockMargin;
        try
        {
            using var listing = clients.For(node).ListChunks(new ListChunksRequest(), cancellationToken: cancellationToken);
            await using var listed = Listed(listing.ResponseStream, cancellationToken).GetAsyncEnumerator(cancellationToken);
            var hasListed = await listed.MoveNextAsync();
            var after = Guid.Empty;
            while (true)
            {
                // uuid order in PostgreSQL is the node's order of ids as lowercase text.
                var rows = await db.ChunkReplicas
                    .FromSql($"SELECT * FROM chunk_replicas WHERE server_id = {node.ServerId} AND chunk_id > {after}")
                    .AsNoTracking()
                    .OrderBy(r => r.ChunkId)
                    .Take(pageSize)
                    .Select(r => new { r.ChunkId, r.Status, r.VerifiedAt })
                    .ToListAsync(cancellationToken);
                foreach (var row in rows)
                {
                    var rowKey = row.ChunkId.ToString("D");
                    // Listed chunks that sort before this row have no row at all.
                    while (hasListed && string.CompareOrdinal(listed.Current.Key, rowKey) < 0)
                    {
                        if (listed.Current.StoredAt < graceLimit)
                        {
                            orphans.Add(listed.Current.ChunkId);
                        }

                        hasListed = await listed.MoveNextAsync();
                    }

                    if (hasListed && listed.Current.Key == rowKey)
                    {
                        hasListed = await listed.MoveNextAsync();
                    }
                    else if (row.Status == ReplicaStatus.Stored && (row.VerifiedAt is null || row.VerifiedAt < listingStarted))
                    {
                        missing.Add(row.ChunkId);
                    }
                }

                await MarkMissingAsync(db, node, missing, pass, cancellationToken);
                if (orphans.Count >= pageSize)
                {
                    await CollectOrphansAsync(db, node, orphans, pass, cancellationToken);
                }

                if (rows.Count < pageSize)
                {
                    break;
                }

                after = rows[^1].ChunkId;
            }

            // Whatever the node lists past the last row has no row either.
            while (hasListed)
            {
                if (listed.Current.StoredAt < graceLimit)
                {
                    orphans.Add(listed.Current.ChunkId);
                }

                if (orphans.Count >= pageSize)
                {
                    await CollectOrphansAsync(db, node, orphans, pass, cancellationToken);
                }

                hasListed = await listed.MoveNextAsync();
            }
        }
        catch (RpcException e)
        {
            // Only what the listing proved before it broke was acted on: it comes in id order.
            LogNodeUnreachable(logger, e, node.Name);
            pass.Incomplete = true;
            return;
        }

        await CollectOrphansAsync(db, node, orphans, pass, cancellationToken);
    }

    private static async IAsyncEnumerable<(string Key, Guid ChunkId, DateTimeOffset StoredAt)> Listed(
        IAsyncStreamReader<ListChunksResponse> listing,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var batch in listing.ReadAllAsync(cancellationToken))
        {
            foreach (var entry in batch.Chunks)
            {
                yield return (entry.ChunkId, Guid.Parse(entry.ChunkId), entry.StoredAt.ToDateTimeOffset());
            }
        }
    }

    private async Task MarkMissingAsync(MetadataDbContext db, NodeInfo node, List<Guid> missing, RepairPass pass, CancellationToken cancellationToken)
    {
        if (missing.Count == 0)
        {
            return;
        }

        await db.ChunkReplicas
            .Where(r => r.ServerId == node.ServerId && missing.Contains(r.ChunkId) && r.Status == ReplicaStatus.Stored)
            .ExecuteUpdateAsync(r => r.SetProperty(x => x.Status, ReplicaStatus.Missing), cancellationToken);
        pass.MissingFound += missing.Count;
        LogMissing(logger, node.Name, missing.Count);
        missing.Clear();
    }

    private async Task CollectOrphansAsync(MetadataDbContext db, NodeInfo node, List<Guid> orphans, RepairPass pass, CancellationToken cancellationToken)
    {
        if (orphans.Count == 0)
        {
            return;
        }

        // A row may have appeared since the listing started: check again right before deleting.
        var referenced = await db.ChunkReplicas.AsNoTracking()
            .Where(r => r.ServerId == node.ServerId && orphans.Contains(r.ChunkId))
            .Select(r => r.ChunkId)
            .ToListAsync(cancellationToken);
        var doomed = orphans.Except(referenced).ToList();
        orphans.Clear();
        if (!options.Value.CollectOrphans || doomed.Count == 0)
        {
            return;
        }

        var removed = await remover.RemoveAsync(doomed.Select(id => new ReplicaToRemove(id, node.ServerId)), cancellationToken);
        pass.OrphansCollected += removed;
        _orphans.Add(removed);
        LogOrphans(logger, node.Name, removed);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not list the chunks of {Node}; it is reconciled at the next pass")]
    private static partial void LogNodeUnreachable(ILogger logger, Exception exception, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Node} lacks {Count} chunks its rows say it stores; they are marked missing")]
    private static partial void LogMissing(ILogger logger, string node, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} orphan chunks from {Node}")]
    private static partial void LogOrphans(ILogger logger, string node, int count);
}
