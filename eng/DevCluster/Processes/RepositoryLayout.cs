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

    /// <summary>The built entry assembly of a service project, e.g. <c>S3Storage.StorageNode</c>.</summary>
    public static string ServiceAssembly(string project)
    {
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
