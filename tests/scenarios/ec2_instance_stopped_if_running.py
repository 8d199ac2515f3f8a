"""Stop an instance only if it is running, then tag it as checked: a branch on a response value."""

import argparse

import boto3

from scenario_noise import stray_work, with_typo_first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--instance-id", required=True)
    parser.add_argument("--noise", action="store_true", help="Also do what a person's session holds besides the task.")
    args = parser.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url)
    found = ec2.describe_instances(InstanceIds=[args.instance_id])
    if found["Reservations"][0]["Instances"][0]["State"]["Name"] == "running":
        ec2.stop_instances(InstanceIds=[args.instance_id])
    tags = {"Resources": [args.instance_id], "Tags": [{"Key": "checked", "Value": "yes"}]}
    if args.noise:
        stray_work(args.endpoint_url)
        with_typo_first(ec2.create_tags, {"Resources": [args.instance_id.replace("i-", "i_")]}, **tags)
    else:
        ec2.create_tags(**tags)


if __name__ == "__main__":
    main()
