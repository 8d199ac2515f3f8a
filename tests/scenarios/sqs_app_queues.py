"""For each application given, create its job queue "<app>-jobs" and tag it with the application
and a Name "<app>-jobs-queue": a name and a tag derived from each element of an input list."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--apps", nargs="+", required=True)
    args = parser.parse_args()

    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url)
    for app in args.apps:
        url = sqs.create_queue(QueueName=f"{app}-jobs")["QueueUrl"]
        sqs.tag_queue(QueueUrl=url, Tags={"App": app, "Name": f"{app}-jobs-queue"})


if __name__ == "__main__":
    main()
