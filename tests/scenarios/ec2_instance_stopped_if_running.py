"""Stop an instance only if it is running, then tag it as checked: a branch on a response value."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--instance-id", required=True)
    args = parser.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url)
    found = ec2.describe_instances(InstanceIds=[args.instance_id])
    if found["Reservations"][0]["Instances"][0]["State"]["Name"] == "running":
        ec2.stop_instances(InstanceIds=[args.instance_id])
    ec2.create_tags(Resources=[args.instance_id], Tags=[{"Key": "checked", "Value": "yes"}])


if __name__ == "__main__":
    main()
