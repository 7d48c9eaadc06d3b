using System.Reflection;

namespace S3Storage.DevCluster.Processes;

/// <summary>Where the repository and the built services are, seen from a built launcher or test assembly.</summary>
public static class RepositoryLayout
{
    public const string SolutionFile = "S3Storage.sln";

    public static string Root { get; } = FindRoot();

    /// <summary>The configuration this launcher was built in; the services were built with it.</summary>
    public static string Configuration { get; } =
        typeof(RepositoryLayout).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>
    /// A directory holding each service published into its own folder
    /// (<c>DIR/S3Storage.Gateway/S3Storage.Gateway.dll</c>); when set, the dev cluster runs those
    /// instead of the build output. The benchmark sets it, to measure the services as a
    /// deployment publishes them (ReadyToRun).
    /// </summary>
    public static string? PublishedServices { get; set; }

    /// <summary>The entry assembly of a service project, e.g. <c>S3Storage.StorageNode</c>: published, if <see cref="PublishedServices"/> is set, else built.</summary>
    public static string ServiceAssembly(string project)
    {
        if (PublishedServices is { } published)
        {
            var publishedPath = Path.Combine(published, project, project + ".dll");
            return File.Exists(publishedPath)
                ? publishedPath
                : throw new FileNotFoundException($"{project} is not published at {publishedPath}.", publishedPath);
        }

        var path = Path.Combine(Root, project, "bin", Configuration, "net10.0", project + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{project} is not built at {path}: run 'dotnet build S3Storage.sln -c {Configuration}' first.", path);
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, SolutionFile)))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No {SolutionFile} above {AppContext.BaseDirectory}: the dev cluster runs from a build inside the repository.");
    }
}
