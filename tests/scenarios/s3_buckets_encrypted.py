"""Encrypt every bucket of the account with SSE-S3: a loop over a listed response."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    args = parser.parse_args()

    s3 = boto3.client("s3", endpoint_url=args.endpoint_url)
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    for bucket in s3.list_buckets()["Buckets"]:
        s3.put_bucket_encryption(Bucket=bucket["Name"], ServerSideEncryptionConfiguration={"Rules": [rule]})


if __name__ == "__main__":
    main()
