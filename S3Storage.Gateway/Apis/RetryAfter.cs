using System.Globalization;

namespace S3Storage.Gateway.Apis;

/// <summary>
/// Every 503 tells the client when to try again: a node or the database that went away is
/// either back, or seen as gone and routed around, within seconds.
/// </summary>
public static class RetryAfter
{
    public const int Seconds = 5;

    public static void Set(HttpResponse response) => response.Headers.RetryAfter = Seconds.ToString(CultureInfo.InvariantCulture);
}
