"""Make sure a user exists (create it only where GetUser answers NoSuchEntity), then add it to a
group: a branch on an error code. --noise adds what a person's session also holds: a call with a
typo that failed and was made again, a throwaway queue, stray reads."""

import argparse

import boto3

from scenario_noise import stray_work, with_typo_first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--user", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--noise", action="store_true")
    args = parser.parse_args()

    iam = boto3.client("iam", endpoint_url=args.endpoint_url)
    if args.noise:
        stray_work(args.endpoint_url)
    try:
        iam.get_user(UserName=args.user)
    except iam.exceptions.NoSuchEntityException:
        iam.create_user(UserName=args.user)
    if args.noise:
        with_typo_first(iam.add_user_to_group, {"GroupName": args.group + "-typo"}, UserName=args.user, GroupName=args.group)
    else:
        iam.add_user_to_group(UserName=args.user, GroupName=args.group)


if __name__ == "__main__":
    main()
