"""Encrypt the buckets whose name starts with a prefix, and no other: a filtered loop."""

import argparse

import boto3

from scenario_noise import stray_work, with_typo_first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--prefix", default="logs-")
    parser.add_argument("--noise", action="store_true", help="Also do what a person's session holds besides the task.")
    args = parser.parse_args()

    s3 = boto3.client("s3", endpoint_url=args.endpoint_url)
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
    if args.noise:
        stray_work(args.endpoint_url)
    typo = args.noise
    for bucket in s3.list_buckets()["Buckets"]:
        if bucket["Name"].startswith(args.prefix):
            encryption = {"Bucket": bucket["Name"], "ServerSideEncryptionConfiguration": {"Rules": [rule]}}
            if typo:
                with_typo_first(s3.put_bucket_encryption, {"Bucket": bucket["Name"] + "-typo"}, **encryption)
                typo = False
            else:
                s3.put_bucket_encryption(**encryption)


if __name__ == "__main__":
    main()
