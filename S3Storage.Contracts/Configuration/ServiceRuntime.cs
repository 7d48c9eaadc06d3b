namespace S3Storage.Contracts.Configuration;

/// <summary>
/// Runtime settings for the store's services that only the environment can carry, applied
/// wherever they are started: by the dev cluster's launcher (and so by the tests and the
/// bench) and by the AppHost (and so in Azure Container Apps). eng/ServiceRuntime.props holds
/// the ones a runtimeconfig can carry.
/// </summary>
public static class ServiceRuntime
{
    /// <summary>
    /// Environment variables every gateway and node process gets, unless its environment sets
    /// them already.
    /// </summary>
    /// <remarks>
    /// <c>DOTNET_GCgen0size</c>: the workstation GC sizes its first generation at half the last
    /// level cache cpu0 reports (the .NET GC reads it from /sys/devices/system/cpu), about 52 MB on
    /// our 105 MB-L3 cloud cores, and every process grew by that before its first collection.
    /// A 4 MB first generation, measured over three 1 GiB uploads and downloads at R=2: gateway
    /// peak RSS 243 -> 202-210 MiB, largest node 241 -> 181-187 MiB, CPU per GiB no worse. The
    /// runtime reads this setting from the environment only (no runtimeconfig name); hex.
    /// </remarks>
    public static IReadOnlyDictionary<string, string> Environment { get; } = new Dictionary<string, string>
    {
        ["DOTNET_GCgen0size"] = "0x400000",
    };
}
