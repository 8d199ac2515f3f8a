"""Launch an EC2 instance, wait until it runs, and tag it with a name."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--name", required=True, help="the instance's Name tag")
    parser.add_argument("--image-id", default="ami-1e749f67")
    parser.add_argument("--instance-type", default="t3.micro")
    args = parser.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url)
    launched = ec2.run_instances(ImageId=args.image_id, InstanceType=args.instance_type, MinCount=1, MaxCount=1)
    instance_id = launched["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1})
    ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "Name", "Value": args.name}])
    print(instance_id)


if __name__ == "__main__":
    main()
