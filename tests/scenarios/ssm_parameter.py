"""Store a configuration value in SSM Parameter Store and tag it."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--name", required=True, help="the parameter's name, such as /app/db/host")
    parser.add_argument("--value", required=True)
    args = parser.parse_args()

    ssm = boto3.client("ssm", endpoint_url=args.endpoint_url)
    ssm.put_parameter(Name=args.name, Value=args.value, Type="String", Description="pysynth scenario")
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=args.name, Tags=[{"Key": "team", "Value": "platform"}])
    print(ssm.get_parameter(Name=args.name)["Parameter"]["Version"])


if __name__ == "__main__":
    main()
