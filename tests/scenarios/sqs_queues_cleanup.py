"""Create a work queue for each name given, each with its own visibility timeout (30 s, 60 s, …),
then delete all but the last by the URL each creation returned: a cleanup over values that
different calls returned, which no list in any response holds."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--queues", nargs="+", required=True)
    args = parser.parse_args()

    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url)
    urls = [
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(30 * number)})["QueueUrl"]
        for number, name in enumerate(args.queues, start=1)
    ]
    for url in urls[:-1]:
        sqs.delete_queue(QueueUrl=url)


if __name__ == "__main__":
    main()
