"""Create an SQS queue with a dead-letter queue, a visibility timeout and tags."""

import argparse
import json

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--queue", required=True)
    parser.add_argument("--visibility-timeout", default="45")
    args = parser.parse_args()

    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url)
    dead_letters = sqs.create_queue(QueueName=f"{args.queue}-dlq")["QueueUrl"]
    dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=args.queue)["QueueUrl"]
    sqs.set_queue_attributes(
        QueueUrl=queue,
        Attributes={
            "VisibilityTimeout": args.visibility_timeout,
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": "5"}),
        },
    )
    sqs.tag_queue(QueueUrl=queue, Tags={"team": "platform"})
    print(queue)


if __name__ == "__main__":
    main()
