"""Add each of the users given to each of the groups given: two nested loops."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--users", nargs="+", required=True)
    parser.add_argument("--groups", nargs="+", required=True)
    args = parser.parse_args()

    iam = boto3.client("iam", endpoint_url=args.endpoint_url)
    for user in args.users:
        for group in args.groups:
            iam.add_user_to_group(UserName=user, GroupName=group)


if __name__ == "__main__":
    main()
