"""Find a running EC2 instance by its Name tag, stop it, wait until it stops, give it another
instance type, and start it again."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--name", required=True, help="the Name tag of the instance to resize")
    parser.add_argument("--instance-type", default="t3.large")
    args = parser.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url)
    filters = [{"Name": "tag:Name", "Values": [args.name]}, {"Name": "instance-state-name", "Values": ["running"]}]
    instance_id = ec2.describe_instances(Filters=filters)["Reservations"][0]["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1})
    ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": args.instance_type})
    ec2.start_instances(InstanceIds=[instance_id])
    print(instance_id)


if __name__ == "__main__":
    main()
