using System.Net;
using System.IO.Hashing;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using S3Storage.Contracts.Metadata.Entities;
using S3Storage.Contracts.Storage;
using S3Storage.Gateway.Cluster;
using S3Storage.Gateway.Uploads;

/// <summary>
/// The gateway's half of an upload with no disk behind it: one chunk hashed as the chunk writer
/// does it (the file's SHA-256 and the chunk's XxHash3) and streamed through <see cref="ReplicaStream"/> over
/// real h2c gRPC, in 64 KiB messages, to a null node (Kestrel in this process that reads and
/// drops the bytes). 64 MiB divided by the mean time is the ceiling this path puts on uploads.
/// </summary>
[MemoryDiagnoser]
public class ChunkStreamBenchmarks
{
    private const int ChunkSize = 64 * 1024 * 1024;

    private WebApplication? _nullNode;
    private NodeClients? _clients;
    private NodeInfo[] _targets = [];
    private readonly byte[] _buffer = new byte[ChunkWriter.ReadBufferSize];

    [Params(1, 2)]
    public int Replicas { get; set; }

    [GlobalSetup]
    public async Task StartNullNodeAsync()
    {
        Random.Shared.NextBytes(_buffer);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
            // The node's own windows (StorageNodeExtensions.Http2WindowSize).
            kestrel.Limits.Http2.InitialConnectionWindowSize = 16 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 16 * 1024 * 1024;
            kestrel.Limits.MaxRequestBodySize = null;
        });
        builder.Services.AddGrpc();
        _nullNode = builder.Build();
        _nullNode.MapGrpcService<NullNode>();
        await _nullNode.StartAsync();
        var address = _nullNode.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _clients = new NodeClients(Microsoft.Extensions.Options.Options.Create(new S3Storage.Contracts.Configuration.ClusterOptions { Secret = S3Storage.Contracts.Configuration.ClusterOptions.Generate() }));
        // Distinct identities on one address: each replica is its own stream, as to two nodes.
        _targets = [.. Enumerable.Range(1, 2).Select(i => new NodeInfo(Guid.NewGuid(), "null-" + i, address, ServerStatus.Active, Live: true, InRing: true))];
    }

    [GlobalCleanup]
    public async Task StopNullNodeAsync()
    {
        _clients?.Dispose();
        if (_nullNode is not null)
        {
            await _nullNode.StopAsync();
            await _nullNode.DisposeAsync();
        }
    }

    [Benchmark(Description = "64 MiB chunk: SHA-256 + XxHash3 + gRPC stream to null node(s)")]
    public async Task<long> StreamOneChunk()
    {
        var header = new ChunkHeader { ChunkId = Guid.NewGuid().ToString("D"), Size = ChunkSize, FileId = Guid.NewGuid().ToString("D"), ChunkNumber = 0 };
        var streams = new List<ReplicaStream>();
        foreach (var target in _targets.Take(Replicas))
        {
            streams.Add(await ReplicaStream.OpenAsync(_clients!, target, header, TimeSpan.FromSeconds(30), CancellationToken.None));
        }

        using var fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var chunkHash = new XxHash3();
        for (var sent = 0; sent < ChunkSize; sent += _buffer.Length)
        {
            fileHash.AppendData(_buffer);
            chunkHash.Append(_buffer);
            for (var offset = 0; offset < _buffer.Length; offset += ChunkWriter.MessageSize)
            {
                var message = _buffer.AsMemory(offset, Math.Min(ChunkWriter.MessageSize, _buffer.Length - offset));
                await Task.WhenAll(streams.Select(s => s.WriteAsync(message)));
            }
        }

        var xxHash3 = chunkHash.GetCurrentHashAsUInt64();
        long stored = 0;
        foreach (var stream in streams)
        {
            var response = await stream.FinishAsync(xxHash3, TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException($"{stream.Node.Name} did not take the chunk: {stream.Failure?.Message}");
            stored += response.Size;
            stream.Dispose();
        }

        return stored;
    }

    /// <summary>A node with no disk: counts the bytes and acknowledges them.</summary>
    private sealed class NullNode : S3Storage.Contracts.Storage.StorageNode.StorageNodeBase
    {
        public override async Task<PutChunkResponse> PutChunk(IAsyncStreamReader<PutChunkRequest> requestStream, ServerCallContext context)
        {
            ChunkHeader? header = null;
            long received = 0;
            var sha256 = "";
            await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
            {
                switch (request.PayloadCase)
                {
                    case PutChunkRequest.PayloadOneofCase.Header:
                        header = request.Header;
                        break;
                    case PutChunkRequest.PayloadOneofCase.Data:
                        received += request.Data.Length;
                        break;
                    case PutChunkRequest.PayloadOneofCase.Trailer:
                        sha256 = request.Trailer.Sha256;
                        break;
                }
            }

            return new PutChunkResponse { ChunkId = header?.ChunkId ?? "", Size = received, Sha256 = sha256 };
        }
    }
}
