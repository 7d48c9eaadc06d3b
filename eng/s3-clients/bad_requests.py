"""Sends malformed and dishonest S3 requests, signed by botocore's own Signature V4 code, and
prints for each: <case> <status> <S3 error code> <whether the object became visible>.

Usage: python3 bad_requests.py <endpoint> <bucket>; credentials from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY. The bucket must exist. The C# test asserts the expected answers.
"""
import datetime
import http.client
import urllib.parse
import hashlib
import os
import re
import sys
import zlib
import base64
from unittest import mock

import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint, bucket = sys.argv[1], sys.argv[2]
credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])


class FixedPayloadAuth(S3SigV4Auth):
    """Signs with the x-amz-content-sha256 value the case wants, whatever the body is."""

    def __init__(self, payload_hash):
        super().__init__(credentials, "s3", "us-east-1")
        self._payload_hash = payload_hash

    def payload(self, request):
        return self._payload_hash if self._payload_hash is not None else super().payload(request)


def send(method, path, body=b"", headers=None, payload_hash=None, signed_at=None):
    url = endpoint + path
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    auth = FixedPayloadAuth(payload_hash)
    if signed_at is None:
        auth.add_auth(request)
    else:
        with mock.patch("botocore.auth.datetime") as clock:
            clock.datetime.utcnow.return_value = signed_at
            clock.datetime.now.return_value = signed_at
            clock.timezone = datetime.timezone
            auth.add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers.items()))


def visible(key):
    return send("HEAD", f"/{bucket}/{key}").status_code == 200


def report(case, response, key=None):
    code = re.search(r"<Code>(.*?)</Code>", response.text)
    body_id = re.search(r"<RequestId>(.*?)</RequestId>", response.text)
    ids_match = body_id is None or body_id.group(1) == response.headers.get("x-amz-request-id")
    print(f"{case} {response.status_code} {code.group(1) if code else '-'} {'visible' if key and visible(key) else 'absent'} {'ids-match' if ids_match else 'ids-differ'}", flush=True)


def chunked_unsigned(data, trailer_name, trailer_value):
    return b"%x\r\n%s\r\n0\r\n%s:%s\r\n\r\n" % (len(data), data, trailer_name.encode(), trailer_value.encode())


crc32 = lambda data: base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
streaming = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "11", "x-amz-trailer": "x-amz-checksum-crc32"}

# Bodies that are not what they claim: nothing may become visible.
report("wrong-trailer-checksum", send("PUT", f"/{bucket}/trailer", chunked_unsigned(b"hello world", "x-amz-checksum-crc32", crc32(b"hello there")), streaming, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), "trailer")
report("right-trailer-checksum", send("PUT", f"/{bucket}/trailer-ok", chunked_unsigned(b"hello world", "x-amz-checksum-crc32", crc32(b"hello world")), streaming, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), "trailer-ok")
report("truncated-aws-chunked", send("PUT", f"/{bucket}/truncated", b"b\r\nhello", streaming, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), "truncated")
signed_streaming = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "11"}
report("bad-chunk-signature", send("PUT", f"/{bucket}/badchunk", b"b;chunk-signature=" + b"0" * 64 + b"\r\nhello world\r\n0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n", signed_streaming, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), "badchunk")
report("sha256-mismatch", send("PUT", f"/{bucket}/sha", b"hello world", payload_hash=hashlib.sha256(b"other").hexdigest()), "sha")
report("bad-content-md5", send("PUT", f"/{bucket}/md5", b"hello world", {"Content-MD5": base64.b64encode(hashlib.md5(b"x").digest()).decode()}), "md5")
report("malformed-content-md5", send("PUT", f"/{bucket}/md5b", b"hello world", {"Content-MD5": "not-base64!"}), "md5b")

# Malformed documents.
upload = re.search(r"<UploadId>(.*?)</UploadId>", send("POST", f"/{bucket}/mp?uploads").text).group(1)
report("complete-malformed-xml", send("POST", f"/{bucket}/mp?uploadId={upload}", b"<CompleteMultipartUpload><Part>"), "mp")
report("complete-no-parts", send("POST", f"/{bucket}/mp?uploadId={upload}", b"<CompleteMultipartUpload></CompleteMultipartUpload>"), "mp")
report("complete-parts-out-of-order", send("POST", f"/{bucket}/mp?uploadId={upload}", b"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>"), "mp")
report("complete-unknown-upload", send("POST", f"/{bucket}/mp?uploadId=nope", b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>"), "mp")
report("delete-objects-malformed-xml", send("POST", f"/{bucket}?delete", b"<Delete><Object><Key>a</Key>", {"Content-MD5": base64.b64encode(hashlib.md5(b"<Delete><Object><Key>a</Key>").digest()).decode()}))
report("delete-objects-too-many", send("POST", f"/{bucket}?delete", b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>"))
report("delete-objects-dtd", send("POST", f"/{bucket}?delete", b'<!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>'))

# Names, keys, times and methods.
report("invalid-bucket-name", send("PUT", "/Not_A_Bucket"))
report("key-over-1024-bytes", send("PUT", f"/{bucket}/" + "k" * 1025, b"x"))
report("part-number-zero", send("PUT", f"/{bucket}/mp?partNumber=0&uploadId={upload}", b"x"), "mp")
report("clock-skew-20-minutes", send("GET", f"/{bucket}", signed_at=datetime.datetime.utcnow() - datetime.timedelta(minutes=20)))
report("not-implemented", send("POST", f"/{bucket}/mp?restore", b"<RestoreRequest/>"))
report("unsigned-request", requests.get(f"{endpoint}/{bucket}"))
report("signature-v2", requests.get(f"{endpoint}/{bucket}?AWSAccessKeyId=AKIA&Expires=2000000000&Signature=abc"))

# What a reviewer found: a signature must not reach what it did not sign.
signed_dot = AWSRequest(method="GET", url=f"{endpoint}/{bucket}/../admin/keys", headers={})
FixedPayloadAuth(None).add_auth(signed_dot)
connection = http.client.HTTPConnection(urllib.parse.urlsplit(endpoint).netloc)
connection.request("GET", f"/{bucket}/../admin/keys", headers=dict(signed_dot.headers.items()))
raw = connection.getresponse()
print(f"sigv4-on-rest-path {raw.status} - absent ids-match", flush=True)
unsigned_header = AWSRequest(method="GET", url=f"{endpoint}/{bucket}", headers={})
FixedPayloadAuth(None).add_auth(unsigned_header)
headers = dict(unsigned_header.headers.items())
headers["x-amz-copy-source"] = f"{bucket}/trailer-ok"
report("unsigned-amz-header", requests.get(f"{endpoint}/{bucket}", headers=headers))
report("nul-in-key", send("PUT", f"/{bucket}/a%00b", b"x"))
report("nul-in-prefix", send("GET", f"/{bucket}?prefix=a%00b"))
report("v1-marker-before-prefix", send("GET", f"/{bucket}?prefix=photos%2F&delimiter=%2F&marker=a"))
report("list-uploads-max-zero", send("GET", f"/{bucket}?uploads&max-uploads=0"))
report("part-number-and-range", send("GET", f"/{bucket}/trailer-ok?partNumber=1", headers={"Range": "bytes=0-1"}))
report("put-if-match", send("PUT", f"/{bucket}/cas", b"x", {"If-Match": '"abc"'}), "cas")
