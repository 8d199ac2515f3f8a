"""Move an item from one DynamoDB table to another: read it, write exactly that item into the
target table, and delete it from the source."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--source", required=True, help="the table the item is in")
    parser.add_argument("--target", required=True, help="the table it moves to")
    parser.add_argument("--id", required=True, help="the item's key (attribute id)")
    args = parser.parse_args()

    dynamodb = boto3.client("dynamodb", endpoint_url=args.endpoint_url)
    key = {"id": {"S": args.id}}
    item = dynamodb.get_item(TableName=args.source, Key=key)["Item"]
    dynamodb.put_item(TableName=args.target, Item=item)
    dynamodb.delete_item(TableName=args.source, Key=key)


if __name__ == "__main__":
    main()
