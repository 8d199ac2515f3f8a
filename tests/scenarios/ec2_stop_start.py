"""Launch an EC2 instance, then stop it and start it again, waiting for each state."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--name", required=True, help="the instance's Name tag")
    parser.add_argument("--image-id", default="ami-1e749f67")
    args = parser.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url)
    launched = ec2.run_instances(
        ImageId=args.image_id, InstanceType="t3.small", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": args.name}]}],
    )
    instance_id = launched["Instances"][0]["InstanceId"]
    waiter_config = {"Delay": 1}
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=waiter_config)
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=waiter_config)
    ec2.start_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=waiter_config)
    print(instance_id)


if __name__ == "__main__":
    main()
