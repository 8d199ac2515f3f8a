"""Create an S3 bucket and put an object into it."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--body", default="hello from pysynth")
    args = parser.parse_args()

    s3 = boto3.client("s3", endpoint_url=args.endpoint_url)
    s3.create_bucket(Bucket=args.bucket)
    s3.put_object(Bucket=args.bucket, Key=args.key, Body=args.body.encode(), ContentType="text/plain")
    head = s3.head_object(Bucket=args.bucket, Key=args.key)
    print(f"s3://{args.bucket}/{args.key}: {head['ContentLength']} bytes")


if __name__ == "__main__":
    main()
