"""Create an IAM role EC2 can assume, a managed policy attached to it, and an instance profile for it."""

import argparse
import json

import boto3

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
READ_LOGS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["logs:GetLogEvents", "logs:DescribeLogStreams"], "Resource": "*"}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint-url")
    parser.add_argument("--role", required=True)
    parser.add_argument("--profile", required=True, help="the instance profile's name")
    parser.add_argument("--policy", required=True, help="the managed policy's name")
    args = parser.parse_args()

    iam = boto3.client("iam", endpoint_url=args.endpoint_url)
    iam.create_role(RoleName=args.role, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY), Description="pysynth scenario")
    policy_arn = iam.create_policy(PolicyName=args.policy, PolicyDocument=json.dumps(READ_LOGS))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=args.role, PolicyArn=policy_arn)
    iam.create_instance_profile(InstanceProfileName=args.profile)
    iam.add_role_to_instance_profile(InstanceProfileName=args.profile, RoleName=args.role)
    print(iam.get_instance_profile(InstanceProfileName=args.profile)["InstanceProfile"]["Arn"])


if __name__ == "__main__":
    main()
