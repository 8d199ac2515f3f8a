"""Store a secret in Secrets Manager and read it back (the trace must hide its value both ways)."""

import argparse
import os

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    value = os.environ.get("SECRET_VALUE", "s3cr3t-value")

    secrets = boto3.client("secretsmanager", endpoint_url=args.endpoint_url)
    arn = secrets.create_secret(Name=args.name, SecretString=value, Description="pysynth scenario")["ARN"]
    secrets.tag_resource(SecretId=arn, Tags=[{"Key": "team", "Value": "platform"}])
    assert secrets.get_secret_value(SecretId=args.name)["SecretString"] == value
    print(arn)


if __name__ == "__main__":
    main()
