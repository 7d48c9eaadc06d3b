using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace S3Storage.Bench;

/// <param name="Services">How the gateway and nodes were built for the run: published (ReadyToRun) or the build output.</param>
public sealed record MachineInfo(int Cores, string OperatingSystem, DateTimeOffset StartedAt, string Services);

/// <summary>One scenario's medians (or p99 for latencies); <see cref="Better"/> says which way is good.</summary>
public sealed record ScenarioResult(string Scenario, string Unit, double Store, double Baseline, string Better)
{
    public double? StoreP50 { get; init; }

    public double? BaselineP50 { get; init; }

    /// <summary>Median CPU of the store's processes (gateway, nodes, PostgreSQL) per unit of work, in <see cref="CpuUnit"/>.</summary>
    public double? StoreCpu { get; init; }

    /// <summary>Median CPU of nginx per unit of work, in <see cref="CpuUnit"/>.</summary>
    public double? BaselineCpu { get; init; }

    /// <summary><c>CPU-s/GiB</c> for byte scenarios, <c>CPU-ms/op</c> for request scenarios.</summary>
    public string? CpuUnit { get; init; }

    /// <summary>store / baseline.</summary>
    public double Ratio => double.IsNaN(Baseline) || Baseline == 0 ? double.NaN : Store / Baseline;
}

/// <summary>A body generated on the fly from a seed (no file of its size on disk), hashed as it is sent.</summary>
public sealed class GeneratedBody(long size, int seed) : HttpContent
{
    public string Sha256 { get; private set; } = "";

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var buffer = new byte[1024 * 1024];
        for (long sent = 0; sent < size; sent += buffer.Length)
        {
            var length = (int)Math.Min(buffer.Length, size - sent);
            random.NextBytes(buffer.AsSpan(0, length));
            hash.AppendData(buffer, 0, length);
            await stream.WriteAsync(buffer.AsMemory(0, length));
        }

        Sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    protected override bool TryComputeLength(out long length)
    {
        length = size;
        return true;
    }
}

public static class ResultWriter
{
    public static string Row(ScenarioResult r)
    {
        string Number(double value) => double.IsNaN(value) ? "-" : value.ToString(value >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture);
        var store = r.StoreP50 is { } p50 ? $"{Number(p50)} / {Number(r.Store)}" : Number(r.Store);
        var baseline = r.BaselineP50 is { } b50 ? $"{Number(b50)} / {Number(r.Baseline)}" : Number(r.Baseline);
        string Cpu(double? value) => value is { } v ? v.ToString(v >= 100 ? "F0" : v >= 1 ? "F2" : "F3", CultureInfo.InvariantCulture) : "-";
        return $"| {r.Scenario,-48} | {store,16} | {baseline,16} | {r.Unit,-6} | {(double.IsNaN(r.Ratio) ? "-" : r.Ratio.ToString("F2", CultureInfo.InvariantCulture)),6} | {Cpu(r.StoreCpu),9} | {Cpu(r.BaselineCpu),9} | {r.CpuUnit ?? "",-9} |";
    }

    public static string Table(IEnumerable<ScenarioResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine($"| {"scenario",-48} | {"store",16} | {"baseline",16} | {"unit",-6} | {"ratio",6} | {"store CPU",9} | {"nginx CPU",9} | {"CPU unit",-9} |");
        text.AppendLine($"|{new string('-', 50)}|{new string('-', 18)}|{new string('-', 18)}|{new string('-', 8)}|{new string('-', 8)}|{new string('-', 11)}|{new string('-', 11)}|{new string('-', 11)}|");
        foreach (var result in results)
        {
            text.AppendLine(Row(result));
        }

        return text.ToString();
    }

    public static void Write(string directory, MachineInfo machine, IReadOnlyList<ScenarioResult> results)
    {
        var json = JsonSerializer.Serialize(
            new { machine, baseline = "nginx (Debian package, WebDAV PUT) on the same machine, same run", results = results.Select(r => new { r.Scenario, r.Unit, r.Store, r.Baseline, r.StoreP50, r.BaselineP50, ratio = double.IsNaN(r.Ratio) ? (double?)null : r.Ratio, r.Better, r.StoreCpu, r.BaselineCpu, r.CpuUnit }) },
            new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        File.WriteAllText(Path.Combine(directory, "latest.json"), json);
        File.WriteAllText(Path.Combine(directory, "latest.svg"), Chart(machine, results.Where(r => !double.IsNaN(r.Ratio) && r.Better != "gateway / largest node").ToList()));
    }

    public static void Render(string directory)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "latest.json")));
        var root = json.RootElement;
        var machine = root.GetProperty("machine");
        var info = new MachineInfo(machine.GetProperty("cores").GetInt32(), machine.GetProperty("operating_system").GetString()!, machine.GetProperty("started_at").GetDateTimeOffset(),
            machine.TryGetProperty("services", out var services) ? services.GetString()! : "build output (JIT)");
        static double Number(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : double.NaN;
        var results = root.GetProperty("results").EnumerateArray().Select(r => new ScenarioResult(
            r.GetProperty("scenario").GetString()!, r.GetProperty("unit").GetString()!, Number(r.GetProperty("store")), Number(r.GetProperty("baseline")), r.GetProperty("better").GetString()!)).ToList();
        File.WriteAllText(Path.Combine(directory, "latest.svg"), Chart(info, results.Where(r => !double.IsNaN(r.Ratio) && r.Better != "gateway / largest node").ToList()));
    }

    /// <summary>
    /// One bar per scenario: store / baseline on a log scale centred on 1 (as good as nginx), so
    /// 0.25× and 4× are bars of the same length; green when the store is the better side.
    /// </summary>
    private static string Chart(MachineInfo machine, IReadOnlyList<ScenarioResult> results)
    {
        const int left = 360, width = 480, rowHeight = 26, top = 56;
        const double decades = 2; // 0.01× … 100×
        var centre = left + (width / 2.0);
        double X(double ratio) => centre + (Math.Clamp(Math.Log10(ratio), -decades, decades) / decades * (width / 2.0));
        var height = top + (results.Count * rowHeight) + 44;
        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{left + width + 60}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">S3Storage / nginx, same machine ({machine.Cores} cores, services {machine.Services}), {machine.StartedAt:yyyy-MM-dd HH:mm} UTC</text>");
        svg.AppendLine("<text x=\"10\" y=\"38\">log scale, centre = as good as nginx; throughput: right is better; latency (p99): left is better; green = store better</text>");
        for (var i = 0; i < results.Count; i++)
        {
            var r = results[i];
            var y = top + (i * rowHeight);
            var x = X(r.Ratio);
            var good = r.Better == "higher" ? r.Ratio >= 1 : r.Ratio <= 1;
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{y + 16}\" text-anchor=\"end\">{WebUtility.HtmlEncode(r.Scenario)}</text>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"{Math.Min(x, centre):F1}\" y=\"{y + 4}\" width=\"{Math.Abs(x - centre):F1}\" height=\"{rowHeight - 8}\" fill=\"{(good ? "#4c9a2a" : "#d9822b")}\"/>");
            var labelX = x < centre ? x - 4 : x + 4;
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{labelX:F1}\" y=\"{y + 16}\" text-anchor=\"{(x < centre ? "end" : "start")}\">{r.Ratio:F2}×</text>");
        }

        var bottom = top + (results.Count * rowHeight);
        foreach (var tick in new[] { 0.01, 0.1, 1, 10, 100 })
        {
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{X(tick):F1}\" y1=\"{top}\" x2=\"{X(tick):F1}\" y2=\"{bottom}\" stroke=\"{(tick == 1 ? "black" : "#ccc")}\" stroke-dasharray=\"4 3\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{X(tick):F1}\" y=\"{bottom + 16}\" text-anchor=\"middle\">{tick}×</text>");
        }

        svg.AppendLine("</svg>");
        return svg.ToString();
    }
}
