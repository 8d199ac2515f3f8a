"""Create a user, add it to a group only if one is given, and tag it: a branch on an optional input."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--user", required=True)
    parser.add_argument("--group")
    args = parser.parse_args()

    iam = boto3.client("iam", endpoint_url=args.endpoint_url)
    iam.create_user(UserName=args.user)
    if args.group:
        iam.add_user_to_group(UserName=args.user, GroupName=args.group)
    iam.tag_user(UserName=args.user, Tags=[{"Key": "onboarded", "Value": "yes"}])


if __name__ == "__main__":
    main()
