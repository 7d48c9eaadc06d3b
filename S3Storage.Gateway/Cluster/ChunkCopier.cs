using Grpc.Core;
using Microsoft.Extensions.Options;
using S3Storage.Contracts.Storage;

namespace S3Storage.Gateway.Cluster;

/// <summary>Where a chunk is, and what it must be.</summary>
public sealed record ChunkLocation(Guid ChunkId, Guid FileId, int ChunkNumber, long Size, string Sha256);

/// <summary>
/// Copies a stored chunk from one node to another through the gateway, streaming: the source
/// verifies every block as it reads, the target verifies the SHA-256 given up front.
/// </summary>
public sealed class ChunkCopier(NodeClients clients, IOptions<UploadOptions> options)
{
    public async Task CopyAsync(ChunkLocation chunk, NodeInfo source, NodeInfo target, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stallTimeout = options.Value.StallTimeout;
        using var read = clients.For(source).GetChunk(new GetChunkRequest { ChunkId = chunk.ChunkId.ToString("D") }, cancellationToken: stall.Token);
        using var write = clients.For(target).PutChunk(cancellationToken: stall.Token);
        try
        {
            stall.CancelAfter(stallTimeout);
            await write.RequestStream.WriteAsync(new PutChunkRequest
            {
                Header = new ChunkHeader
                {
                    ChunkId = chunk.ChunkId.ToString("D"),
                    Size = chunk.Size,
                    Sha256 = chunk.Sha256,
                    FileId = chunk.FileId.ToString("D"),
                    ChunkNumber = chunk.ChunkNumber,
                },
            }, stall.Token);

            while (await read.ResponseStream.MoveNext(stall.Token))
            {
                var message = read.ResponseStream.Current;
                if (message.PayloadCase == GetChunkResponse.PayloadOneofCase.Info)
                {
                    if (message.Info.Size != chunk.Size || message.Info.Sha256 != chunk.Sha256)
                    {
                        throw new RpcException(new Status(StatusCode.DataLoss, $"{source.Name} holds chunk {chunk.ChunkId} with another size or hash."));
                    }

                    continue;
                }

                await write.RequestStream.WriteAsync(new PutChunkRequest { Data = message.Data }, stall.Token);
                stall.CancelAfter(stallTimeout);
            }

            await write.RequestStream.CompleteAsync();
            stall.CancelAfter(stallTimeout * 4);
            await write.ResponseAsync;
        }
        catch (InvalidOperationException)
        {
            // The target answered before taking every byte (it already holds the chunk):
            // its answer says whether that is a success.
            await write.ResponseAsync;
        }
    }
}
