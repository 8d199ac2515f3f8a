"""Create a KMS key, give it an alias, and turn on key rotation."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--alias", required=True, help="the alias, without alias/")
    parser.add_argument("--description", default="pysynth scenario key")
    args = parser.parse_args()

    kms = boto3.client("kms", endpoint_url=args.endpoint_url)
    key_id = kms.create_key(Description=args.description, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/{args.alias}", TargetKeyId=key_id)
    kms.enable_key_rotation(KeyId=key_id)
    print(key_id)


if __name__ == "__main__":
    main()
