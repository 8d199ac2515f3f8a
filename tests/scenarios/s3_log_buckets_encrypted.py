"""Encrypt the buckets whose name starts with a prefix, and no other: a filtered loop."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--prefix", default="logs-")
    args = parser.parse_args()

    s3 = boto3.client("s3", endpoint_url=args.endpoint_url)
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
    for bucket in s3.list_buckets()["Buckets"]:
        if bucket["Name"].startswith(args.prefix):
            s3.put_bucket_encryption(Bucket=bucket["Name"], ServerSideEncryptionConfiguration={"Rules": [rule]})


if __name__ == "__main__":
    main()
