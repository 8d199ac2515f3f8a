"""Create a user, add it to a group only if one is given, and tag it: a branch on an optional input."""

import argparse

import boto3

from scenario_noise import stray_work, with_typo_first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--user", required=True)
    parser.add_argument("--group")
    parser.add_argument("--noise", action="store_true", help="Also do what a person's session holds besides the task.")
    args = parser.parse_args()

    iam = boto3.client("iam", endpoint_url=args.endpoint_url)
    iam.create_user(UserName=args.user)
    if args.group:
        iam.add_user_to_group(UserName=args.user, GroupName=args.group)
    tags = {"UserName": args.user, "Tags": [{"Key": "onboarded", "Value": "yes"}]}
    if args.noise:
        stray_work(args.endpoint_url)
        with_typo_first(iam.tag_user, {"UserName": args.user + "-typo"}, **tags)
    else:
        iam.tag_user(**tags)


if __name__ == "__main__":
    main()
