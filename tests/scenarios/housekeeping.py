"""Encrypt every log bucket, make sure a user exists, and add it to each group given: two loops
and a branch on an error code."""

import argparse

import boto3

from scenario_noise import stray_work, with_typo_first

ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--user", required=True)
    parser.add_argument("--groups", nargs="+", required=True)
    parser.add_argument("--noise", action="store_true", help="Also do what a person's session holds besides the task.")
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
    if args.noise:
        stray_work(args.endpoint_url)
        with_typo_first(iam.add_user_to_group, {"GroupName": args.groups[0] + "-typo"},
                        UserName=args.user, GroupName=args.groups[0])
    for group in args.groups[1 if args.noise else 0:]:
        iam.add_user_to_group(UserName=args.user, GroupName=group)


if __name__ == "__main__":
    main()
