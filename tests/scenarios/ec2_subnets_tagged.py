"""Create a subnet in a VPC for each CIDR block given and tag it "<vpc id>-<n>": a loop whose body
has two calls, the second using the first one's new subnet, and a tag derived from the VPC and
the iteration."""

import argparse

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--vpc-id", required=True)
    parser.add_argument("--cidrs", nargs="+", required=True)
    args = parser.parse_args()

    ec2 = boto3.client("ec2", endpoint_url=args.endpoint_url)
    for number, cidr in enumerate(args.cidrs, start=1):
        subnet = ec2.create_subnet(VpcId=args.vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"]
        ec2.create_tags(Resources=[subnet], Tags=[{"Key": "Name", "Value": f"{args.vpc_id}-{number}"}])


if __name__ == "__main__":
    main()
