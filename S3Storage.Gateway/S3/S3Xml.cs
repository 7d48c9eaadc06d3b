using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace S3Storage.Gateway.S3;

/// <summary>S3's XML documents: the namespace, timestamps, quoted ETags, and safe parsing of request bodies.</summary>
public static class S3Xml
{
    public static readonly XNamespace Ns = "http://s3.amazonaws.com/doc/2006-03-01/";

    public static XElement Element(string name, params object?[] content) => new(Ns + name, content);

    /// <summary>ISO 8601 UTC with milliseconds, as S3 writes times in XML.</summary>
    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>RFC 1123, as S3 writes times in headers.</summary>
    public static string HttpTime(DateTimeOffset time) => time.UtcDateTime.ToString("r", CultureInfo.InvariantCulture);

    public static string Quoted(string etag) => "\"" + etag + "\"";

    /// <summary>An ETag as clients send it back: quoted, sometimes as &amp;quot;, sometimes bare.</summary>
    public static string Unquoted(string etag) => etag.Trim().Replace("&quot;", "\"", StringComparison.Ordinal).Trim('"');

    public static async Task WriteAsync(HttpResponse response, XElement root, int statusCode = StatusCodes.Status200OK)
    {
        response.StatusCode = statusCode;
        response.ContentType = "application/xml";
        var document = new XDocument(new XDeclaration("1.0", "UTF-8", null), root);
        await using var writer = XmlWriter.Create(response.Body, new XmlWriterSettings { Async = true, Encoding = new System.Text.UTF8Encoding(false), Indent = false });
        await document.SaveAsync(writer, response.HttpContext.RequestAborted);
    }

    /// <summary>Parses a small request document; anything not well-formed (or with a DTD) is MalformedXML.</summary>
    public static XElement Parse(byte[] body)
    {
        try
        {
            using var stream = new MemoryStream(body);
            using var reader = XmlReader.Create(stream, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            return XDocument.Load(reader).Root ?? throw S3Errors.MalformedXml("The XML you provided is empty.");
        }
        catch (XmlException e)
        {
            throw new S3Exception("MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema.", e);
        }
    }

    /// <summary>Child elements by local name, whatever namespace the client used (clients differ).</summary>
    public static IEnumerable<XElement> Children(XElement parent, string localName) =>
        parent.Elements().Where(e => e.Name.LocalName == localName);

    public static string? ChildValue(XElement parent, string localName) => Children(parent, localName).FirstOrDefault()?.Value;
}
