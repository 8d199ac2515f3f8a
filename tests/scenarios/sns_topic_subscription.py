"""Create an SNS topic with a display name and subscribe an e-mail address to it."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--email", required=True)
    args = parser.parse_args()

    sns = boto3.client("sns", endpoint_url=args.endpoint_url)
    topic_arn = sns.create_topic(Name=args.topic, Tags=[{"Key": "team", "Value": "platform"}])["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="DisplayName", AttributeValue="Alerts")
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=args.email)
    print(topic_arn)


if __name__ == "__main__":
    main()
