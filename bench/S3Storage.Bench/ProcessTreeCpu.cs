using System.Diagnostics;
using System.Globalization;

namespace S3Storage.Bench;

/// <summary>
/// CPU time (user + system) used by some processes and every process under them, read from
/// /proc/&lt;pid&gt;/stat: the store is the gateway, the nodes and PostgreSQL's postmaster with its
/// backends; nginx is its master and worker. The benchmark's own client CPU is not counted.
/// </summary>
public sealed class ProcessTreeCpu(Func<IReadOnlyCollection<int>> roots)
{
    private static readonly double TicksPerSecond = ReadClockTicks();

    /// <summary>
    /// CPU seconds used so far. A live process counts its own time plus that of its children
    /// that have exited and been waited for (cutime, cstime), so a backend that ended between
    /// two readings is still counted once.
    /// </summary>
    public double Seconds()
    {
        var stats = new Dictionary<int, (int Parent, long Ticks)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                // The command name sits in parentheses and may hold spaces or parentheses itself.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                var ticks = fields.Skip(11).Take(4).Sum(f => long.Parse(f, CultureInfo.InvariantCulture));
                stats[pid] = (parent, ticks);
            }
            catch (IOException)
            {
                // Exited while we looked: its time is in its parent's cutime/cstime once reaped.
            }
        }

        var children = stats.ToLookup(s => s.Value.Parent, s => s.Key);
        var seen = new HashSet<int>();
        var pending = new Stack<int>(roots());
        long total = 0;
        while (pending.TryPop(out var pid))
        {
            if (!seen.Add(pid) || !stats.TryGetValue(pid, out var stat))
            {
                continue;
            }

            total += stat.Ticks;
            foreach (var child in children[pid])
            {
                pending.Push(child);
            }
        }

        return total / TicksPerSecond;
    }

    private static double ReadClockTicks()
    {
        using var getconf = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true, UseShellExecute = false })
            ?? throw new InvalidOperationException("getconf did not start.");
        var output = getconf.StandardOutput.ReadToEnd();
        getconf.WaitForExit();
        return double.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }
}
