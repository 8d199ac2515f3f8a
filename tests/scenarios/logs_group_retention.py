"""Create a CloudWatch Logs group, set its retention, and create a stream in it."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--group", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()

    logs = boto3.client("logs", endpoint_url=args.endpoint_url)
    logs.create_log_group(logGroupName=args.group, tags={"team": "platform"})
    logs.put_retention_policy(logGroupName=args.group, retentionInDays=args.days)
    logs.create_log_stream(logGroupName=args.group, logStreamName=args.stream)
    print(logs.describe_log_groups(logGroupNamePrefix=args.group)["logGroups"][0]["arn"])


if __name__ == "__main__":
    main()
