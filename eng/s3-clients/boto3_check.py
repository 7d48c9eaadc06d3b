"""Drives the S3 API with boto3 as an application would, and checks what comes back.

Usage: python3 boto3_check.py <endpoint> <bucket> <work dir>; credentials from AWS_ACCESS_KEY_ID
and AWS_SECRET_ACCESS_KEY. Prints one line per check and exits non-zero on the first mismatch.
"""
import hashlib
import os
import sys
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint, bucket, work = sys.argv[1], sys.argv[2], sys.argv[3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def check(name, condition):
    print(("ok   " if condition else "FAIL ") + name, flush=True)
    if not condition:
        sys.exit(1)


print("boto3", boto3.__version__)
s3.create_bucket(Bucket=bucket)
check("bucket listed", bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]])

small = os.urandom(100_000)
put = s3.put_object(Bucket=bucket, Key="small one+plus", Body=small, ContentType="text/plain", Metadata={"k": "v"})
check("put ETag is the MD5", put["ETag"] == '"%s"' % hashlib.md5(small).hexdigest())
got = s3.get_object(Bucket=bucket, Key="small one+plus")
check("get returns the bytes", got["Body"].read() == small)
check("metadata and type kept", got["Metadata"] == {"k": "v"} and got["ContentType"] == "text/plain")
check("range read", s3.get_object(Bucket=bucket, Key="small one+plus", Range="bytes=10-19")["Body"].read() == small[10:20])

big_path = os.path.join(work, "boto3-big.bin")
with open(big_path, "wb") as f:
    f.write(os.urandom(13 * 1024 * 1024 + 5))
s3.upload_file(big_path, bucket, "dir/big.bin", Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
down_path = os.path.join(work, "boto3-big.out")
s3.download_file(bucket, "dir/big.bin", down_path)
check("multipart upload comes back byte for byte", open(big_path, "rb").read() == open(down_path, "rb").read())
check("multipart ETag has -3", s3.head_object(Bucket=bucket, Key="dir/big.bin")["ETag"].endswith('-3"'))

keys = ["p/%03d" % i for i in range(25)] + ["q/a b", "q/c+d", "top"]
for key in keys:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
listed = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7}):
    listed += [o["Key"] for o in page.get("Contents", [])]
check("paged V2 listing in byte order", listed == sorted(keys + ["dir/big.bin", "small one+plus"]))
prefixes = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
check("common prefixes", [p["Prefix"] for p in prefixes["CommonPrefixes"]] == ["dir/", "p/", "q/"])
check("url-encoded keys decoded", [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="q/")["Contents"]] == ["q/a b", "q/c+d"])
v1 = []
for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 10}):
    v1 += [o["Key"] for o in page.get("Contents", [])]
check("paged V1 listing", v1 == listed)

s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "small one+plus"})
check("copy", s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == small)

url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "small one+plus"}, ExpiresIn=300)
check("presigned GET", urllib.request.urlopen(url).read() == small)

deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
check("batch delete", sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys))
try:
    s3.get_object(Bucket=bucket, Key="top")
    check("deleted key is gone", False)
except s3.exceptions.NoSuchKey:
    check("deleted key is gone", True)
for key in ["small one+plus", "dir/big.bin", "copy"]:
    s3.delete_object(Bucket=bucket, Key=key)
s3.delete_bucket(Bucket=bucket)
check("bucket deleted", bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]])
