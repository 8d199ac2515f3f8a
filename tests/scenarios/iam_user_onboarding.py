"""Onboard an IAM user: the user, a group with a managed policy, membership, a console password and an
access key (whose secret the trace must hide)."""

import argparse
import json
import os

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--user", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--policy", required=True, help="the name of the group's managed policy")
    args = parser.parse_args()
    password = os.environ.get("INITIAL_PASSWORD", "Initial-Passw0rd!")

    iam = boto3.client("iam", endpoint_url=args.endpoint_url)
    account = boto3.client("sts", endpoint_url=args.endpoint_url).get_caller_identity()["Account"]
    iam.create_policy(
        PolicyName=args.policy,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
    )
    iam.create_user(UserName=args.user, Tags=[{"Key": "team", "Value": "platform"}])
    iam.create_group(GroupName=args.group)
    iam.attach_group_policy(GroupName=args.group, PolicyArn=f"arn:aws:iam::{account}:policy/{args.policy}")
    iam.add_user_to_group(GroupName=args.group, UserName=args.user)
    iam.create_login_profile(UserName=args.user, Password=password)
    key = iam.create_access_key(UserName=args.user)["AccessKey"]
    print(key["AccessKeyId"])


if __name__ == "__main__":
    main()
