"""Stop every running instance, one call per instance: a loop one StopInstances call can make
over the whole list."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    args = parser.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url)
    for reservation in ec2.describe_instances()["Reservations"]:
        for instance in reservation["Instances"]:
            if instance["State"]["Name"] == "running":
                ec2.stop_instances(InstanceIds=[instance["InstanceId"]])


if __name__ == "__main__":
    main()
