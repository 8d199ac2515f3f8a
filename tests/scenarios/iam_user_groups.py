"""Create a user and add it to each of the groups given: a loop over an input list."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--user", required=True)
    parser.add_argument("--groups", nargs="+", required=True)
    args = parser.parse_args()

    iam = boto3.client("iam", endpoint_url=args.endpoint_url)
    user = iam.create_user(UserName=args.user)["User"]["UserName"]
    for group in args.groups:
        iam.add_user_to_group(UserName=user, GroupName=group)


if __name__ == "__main__":
    main()
