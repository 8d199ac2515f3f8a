"""Create an EBS volume, tag it, and snapshot it once it is available."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--name", required=True, help="the Name tag of the volume and the snapshot")
    parser.add_argument("--availability-zone", default="us-east-1a")
    parser.add_argument("--size", type=int, default=8)
    args = parser.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url)
    volume = ec2.create_volume(AvailabilityZone=args.availability_zone, Size=args.size, VolumeType="gp3")
    volume_id = volume["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig={"Delay": 1})
    ec2.create_tags(Resources=[volume_id], Tags=[{"Key": "Name", "Value": args.name}])
    snapshot = ec2.create_snapshot(
        VolumeId=volume_id, Description=f"backup of {args.name}",
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "Name", "Value": args.name}]}],
    )
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot["SnapshotId"]], WaiterConfig={"Delay": 1})
    print(volume_id, snapshot["SnapshotId"])


if __name__ == "__main__":
    main()
