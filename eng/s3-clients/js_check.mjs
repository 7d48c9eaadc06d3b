// Drives the S3 API with the current AWS SDK for JavaScript (v3), which sends a streaming body
// as STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer, and checks what comes back.
// Usage: node js_check.mjs <endpoint> <bucket>; credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY; @aws-sdk/client-s3 resolved from NODE_PATH.
import { createRequire } from "node:module";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";

const require = createRequire(process.env.NODE_PATH ? process.env.NODE_PATH + "/" : import.meta.url);
const s3sdk = require("@aws-sdk/client-s3");
const [endpoint, bucket] = process.argv.slice(2);
const s3 = new s3sdk.S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, maxAttempts: 1 });
// Records how each PutObject was signed (inside the signing step, so the headers are final).
const payloadModes = [];
s3.middlewareStack.add((next) => async (args) => {
  if (args.request?.method === "PUT" && args.request.query?.["x-id"] === "PutObject") {
    payloadModes.push(args.request.headers["x-amz-content-sha256"]);
  }
  return next(args);
}, { step: "finalizeRequest", priority: "low" });

function check(name, condition) {
  console.log((condition ? "ok   " : "FAIL ") + name);
  if (!condition) process.exit(1);
}

const md5 = (data) => createHash("md5").update(data).digest("hex");
console.log("@aws-sdk/client-s3", require("@aws-sdk/client-s3/package.json").version);
await s3.send(new s3sdk.CreateBucketCommand({ Bucket: bucket }));

const data = randomBytes(3 * 1024 * 1024 + 11);
// A stream of unknown length: the SDK sends aws-chunked with a trailing checksum.
const streamed = await s3.send(new s3sdk.PutObjectCommand({
  Bucket: bucket, Key: "stream/one", Body: Readable.from([data.subarray(0, 1000000), data.subarray(1000000)]), ContentLength: data.length,
}));
check("streamed put ETag is the MD5", streamed.ETag === `"${md5(data)}"`);
check("streamed put sent STREAMING-UNSIGNED-PAYLOAD-TRAILER", payloadModes[0] === "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
const buffered = await s3.send(new s3sdk.PutObjectCommand({ Bucket: bucket, Key: "buffer/two", Body: data.subarray(0, 5000) }));
check("buffered put ETag is the MD5", buffered.ETag === `"${md5(data.subarray(0, 5000))}"`);

const got = await s3.send(new s3sdk.GetObjectCommand({ Bucket: bucket, Key: "stream/one" }));
check("get returns the bytes", Buffer.from(await got.Body.transformToByteArray()).equals(data));

const listed = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket, Delimiter: "/" }));
check("listing", JSON.stringify((listed.CommonPrefixes ?? []).map((p) => p.Prefix)) === JSON.stringify(["buffer/", "stream/"]));

await s3.send(new s3sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: "stream/one" }, { Key: "buffer/two" }] } }));
const empty = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: bucket }));
check("batch delete", (empty.Contents ?? []).length === 0);
await s3.send(new s3sdk.DeleteBucketCommand({ Bucket: bucket }));
check("bucket deleted", true);
