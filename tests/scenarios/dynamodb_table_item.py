"""Create a DynamoDB table, wait until it exists, and insert an item."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--table", required=True)
    parser.add_argument("--item-id", required=True)
    parser.add_argument("--owner", default="platform")
    args = parser.parse_args()

    dynamodb = boto3.client("dynamodb", endpoint_url=args.endpoint_url)
    dynamodb.create_table(
        TableName=args.table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=args.table, WaiterConfig={"Delay": 1})
    dynamodb.put_item(TableName=args.table, Item={"id": {"S": args.item_id}, "owner": {"S": args.owner}})
    print(dynamodb.describe_table(TableName=args.table)["Table"]["TableArn"])


if __name__ == "__main__":
    main()
