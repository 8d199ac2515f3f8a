"""Encrypt every log bucket, make sure a user exists, and add it to each group given: two loops
and a branch on an error code."""

import argparse

import boto3

ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--user", required=True)
    parser.add_argument("--groups", nargs="+", required=True)
    args = parser.parse_args()

    s3 = boto3.client("s3", endpoint_url=args.endpoint_url)
    for bucket in s3.list_buckets()["Buckets"]:
        if bucket["Name"].startswith("logs-"):
            s3.put_bucket_encryption(Bucket=bucket["Name"], ServerSideEncryptionConfiguration=ENCRYPTION)
    iam = boto3.client("iam", endpoint_url=args.endpoint_url)
    try:
        iam.get_user(UserName=args.user)
    except iam.exceptions.NoSuchEntityException:
        iam.create_user(UserName=args.user)
    for group in args.groups:
        iam.add_user_to_group(UserName=args.user, GroupName=group)


if __name__ == "__main__":
    main()
