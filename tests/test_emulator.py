"""The bundled examples' reviewed runbooks (tests/golden) run against moto's server in the three
renderings that run: SSM through ``pysynth run``, bash with the AWS CLI from PyPI, Python with
boto3. Each case starts from a fresh moto state, creates the resources the runbook expects to
exist, runs with input values other than the logged ones, and then checks moto's state.

The gaps of moto these runbooks meet are noted where the checks work around them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import boto3
import pytest
from botocore import xform_name

from moto_server import MOTO_ENVIRONMENT, REGION, start_moto_server_with_managed_policies
from pysynth.ssm import load_runbook

GOLDEN = Path(__file__).resolve().parent / "golden"
RENDERINGS = {"ssm": "ssm.yaml", "bash": "sh", "python": "py"}
MOTO_ACCOUNT = "123456789012"
RUN_SECONDS = 300


@pytest.fixture(scope="module")
def moto():
    """A moto server for this module, with AWS-managed policies (ReadOnlyAccess…) loaded."""
    yield from start_moto_server_with_managed_policies()


class Aws:
    """boto3 clients on the moto server, for the setups and the checks."""

    def __init__(self, endpoint: str):
        self.iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
        self.ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)


@dataclass(frozen=True)
class Example:
    setup: Callable[[Aws], dict[str, str]]  # creates what must exist beforehand; returns the inputs
    check: Callable[[Aws, dict[str, str], dict[str, object]], None]  # (aws, inputs, printed outputs)
    secrets: dict[str, str] = field(default_factory=dict)  # environment variables the runbook reads
    # Secrets the steps create (CreateAccessKey's secret key) the scripts keep in --secrets-file.
    created_secrets: tuple[str, ...] = ()


# --------------------------------------------------------------------------- iam-onboarding


def setup_onboarding(aws: Aws) -> dict[str, str]:
    aws.iam.create_group(GroupName="platform-engineers")
    return {"UserName": "carol", "GroupName": "platform-engineers"}


def check_onboarding(aws: Aws, inputs: dict[str, str], outputs: dict[str, object]) -> None:
    keys = aws.iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]
    assert outputs == {"CreateUser.UserName": "carol", "CreateUser.Arn": f"arn:aws:iam::{MOTO_ACCOUNT}:user/carol",
                       "CreateAccessKey.AccessKeyId": keys[0]["AccessKeyId"]}
    assert aws.iam.get_user(UserName="carol")["User"]["Tags"] == [{"Key": "team", "Value": "platform"}]
    assert attached_policies(aws, "carol") == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    # moto ignores CreateLoginProfile's PasswordResetRequired: only the profile's existence is checked.
    assert aws.iam.get_login_profile(UserName="carol")["LoginProfile"]["UserName"] == "carol"
    assert [group["GroupName"] for group in aws.iam.list_groups_for_user(UserName="carol")["Groups"]] == [
        "platform-engineers"
    ]
    assert len(aws.iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]) == 1


def attached_policies(aws: Aws, user: str) -> list[str]:
    return [policy["PolicyArn"] for policy in aws.iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]]


# --------------------------------------------------------------------------- iam-users


def setup_users(aws: Aws) -> dict[str, str]:
    return {"UserName": "svc-backup", "UserName2": "ops-admin"}


def check_users(aws: Aws, inputs: dict[str, str], outputs: dict[str, object]) -> None:
    assert outputs["CreateUser.UserName"] == "svc-backup"
    assert outputs["CreateUser2.Arn"] == f"arn:aws:iam::{MOTO_ACCOUNT}:user/ops-admin"
    for user in ("svc-backup", "ops-admin"):
        assert aws.iam.get_user(UserName=user)["User"]["Tags"] == [{"Key": "StratusRedTeam", "Value": "true"}]
        assert len(aws.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]) == 1
    assert attached_policies(aws, "svc-backup") == []
    assert attached_policies(aws, "ops-admin") == ["arn:aws:iam::aws:policy/AdministratorAccess"]


# --------------------------------------------------------------------------- terraform-vpc


def setup_terraform(aws: Aws) -> dict[str, str]:
    images = aws.ec2.describe_images(Owners=["amazon"])["Images"]
    return {
        "RoleName": "app-describe-role", "PolicyName": "describe-only",
        "RoleName2": "app-instance-role", "PolicyName2": "describe-inline",
        "InstanceProfileName": "app-instance-profile",
        "ImageId": min(image["ImageId"] for image in images),  # one of moto's AMIs
    }


def check_terraform(aws: Aws, inputs: dict[str, str], outputs: dict[str, object]) -> None:
    role = aws.iam.get_role(RoleName="app-describe-role")["Role"]
    # {{ global:ACCOUNT_ID }} resolved to the caller's account.
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": MOTO_ACCOUNT}
    assert aws.iam.get_role_policy(RoleName="app-describe-role", PolicyName="describe-only")["PolicyName"]
    assert aws.iam.get_role_policy(RoleName="app-instance-role", PolicyName="describe-inline")["PolicyName"]
    attached = aws.iam.list_attached_role_policies(RoleName="app-instance-role")["AttachedPolicies"]
    assert [policy["PolicyName"] for policy in attached] == ["AmazonSSMManagedInstanceCore"]
    profile = aws.iam.get_instance_profile(InstanceProfileName="app-instance-profile")["InstanceProfile"]
    assert [item["RoleName"] for item in profile["Roles"]] == ["app-instance-role"]

    vpc_id = outputs["CreateVpc.VpcId"]
    in_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    assert aws.ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"
    subnets = {subnet["SubnetId"]: subnet for subnet in aws.ec2.describe_subnets(Filters=in_vpc)["Subnets"]}
    public, private = subnets[outputs["CreateSubnet.SubnetId"]], subnets[outputs["CreateSubnet2.SubnetId"]]
    assert (public["CidrBlock"], private["CidrBlock"]) == ("10.0.128.0/24", "10.0.1.0/24")
    assert public["AvailabilityZone"] == private["AvailabilityZone"] == f"{REGION}a"  # {{ global:REGION }}a
    assert tag(public, "Name") == f"stratus-red-team-ec2-steal-credentials-vpc-public-{REGION}a"
    assert tag(private, "Name") == outputs["CreateRouteTable.Value"] == (
        f"stratus-red-team-ec2-steal-credentials-vpc-private-{REGION}a"
    )

    gateway = outputs["CreateInternetGateway.InternetGatewayId"]
    attachments = aws.ec2.describe_internet_gateways(InternetGatewayIds=[gateway])["InternetGateways"][0]["Attachments"]
    assert [attachment["VpcId"] for attachment in attachments] == [vpc_id]
    nat = aws.ec2.describe_nat_gateways(NatGatewayIds=[outputs["CreateNatGateway.NatGatewayId"]])["NatGateways"][0]
    assert nat["SubnetId"] == public["SubnetId"]
    assert [address["AllocationId"] for address in nat["NatGatewayAddresses"]] == [outputs["AllocateAddress.AllocationId"]]

    tables = {table["RouteTableId"]: table for table in aws.ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]}
    public_table, private_table = tables[outputs["CreateRouteTable2.RouteTableId"]], tables[outputs["CreateRouteTable.RouteTableId"]]
    assert default_route(public_table)["GatewayId"] == gateway
    assert default_route(private_table)["NatGatewayId"] == nat["NatGatewayId"]
    assert associated_subnets(public_table) == [public["SubnetId"]]
    assert associated_subnets(private_table) == [private["SubnetId"]]

    interface = outputs["CreateNetworkInterface.NetworkInterfaceId"]
    eni = aws.ec2.describe_network_interfaces(NetworkInterfaceIds=[interface])["NetworkInterfaces"][0]
    assert (eni["SubnetId"], eni["PrivateIpAddress"]) == (private["SubnetId"], "10.0.1.10")
    reservation = aws.ec2.describe_instances(InstanceIds=[outputs["RunInstances.InstanceId"]])["Reservations"][0]
    instance = reservation["Instances"][0]
    assert (instance["ImageId"], instance["InstanceType"]) == (inputs["ImageId"], "t3.micro")
    assert [item["NetworkInterfaceId"] for item in instance["NetworkInterfaces"]] == [interface]
    assert instance["IamInstanceProfile"]["Arn"].endswith(":instance-profile/app-instance-profile")


def tag(resource: dict, key: str) -> str | None:
    return next((item["Value"] for item in resource.get("Tags", []) if item["Key"] == key), None)


def default_route(table: dict) -> dict:
    return next(route for route in table["Routes"] if route.get("DestinationCidrBlock") == "0.0.0.0/0")


def associated_subnets(table: dict) -> list[str]:
    return [item["SubnetId"] for item in table["Associations"] if item.get("SubnetId")]


# --------------------------------------------------------------------------- ec2-security-group-snapshot


def setup_security_group(aws: Aws) -> dict[str, str]:
    vpc_id = aws.ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    return {"GroupName": "web-tls", "VpcId": vpc_id}


def check_security_group(aws: Aws, inputs: dict[str, str], outputs: dict[str, object]) -> None:
    group = aws.ec2.describe_security_groups(GroupIds=[outputs["CreateSecurityGroup.GroupId"]])["SecurityGroups"][0]
    assert (group["GroupName"], group["VpcId"], tag(group, "Name")) == ("web-tls", inputs["VpcId"], "web-tls")
    ingress = {(rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort")): rule for rule in group["IpPermissions"]}
    assert set(ingress) == {("tcp", 443, 443), ("tcp", 22, 22)}
    assert ingress[("tcp", 443, 443)]["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "TLS from Internet"}]
    assert ingress[("tcp", 22, 22)]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    # The default egress rule was revoked, then all traffic allowed again, IPv6 too.
    [egress] = group["IpPermissionsEgress"]
    assert egress["IpProtocol"] == "-1"
    assert (egress["IpRanges"], egress["Ipv6Ranges"]) == ([{"CidrIp": "0.0.0.0/0"}], [{"CidrIpv6": "::/0"}])
    volume = aws.ec2.describe_volumes(VolumeIds=[outputs["CreateVolume.VolumeId"]])["Volumes"][0]
    assert (volume["Size"], tag(volume, "Name")) == (1, "stratus-red-team-share-ami-ami")
    snapshot = aws.ec2.describe_snapshots(SnapshotIds=[outputs["CreateSnapshot.SnapshotId"]])["Snapshots"][0]
    assert (snapshot["VolumeId"], tag(snapshot, "StratusRedTeam")) == (volume["VolumeId"], "true")


EXAMPLES = {
    "iam-onboarding": Example(setup_onboarding, check_onboarding, secrets={"PYSYNTH_SECRET_PASSWORD": "Correct-Horse-9!"},
                              created_secrets=("CreateAccessKey.SecretAccessKey",)),
    "iam-users": Example(setup_users, check_users,
                         created_secrets=("CreateAccessKey.SecretAccessKey", "CreateAccessKey2.SecretAccessKey")),
    "terraform-vpc": Example(setup_terraform, check_terraform),
    "ec2-security-group-snapshot": Example(setup_security_group, check_security_group),
}


# --------------------------------------------------------------------------- running the renderings


def run_rendering(rendering: str, path: Path, endpoint: str, inputs: dict[str, str], secrets: dict[str, str],
                  secrets_file: Path | None = None) -> dict:
    """Run the runbook at ``path`` as a user would; its outputs, printed as JSON on stdout. The
    secrets it creates must never be printed."""
    if rendering == "ssm":
        command = [sys.executable, "-m", "pysynth", "run", str(path)]
        command += [argument for name, value in inputs.items() for argument in ("--param", f"{name}={value}")]
    else:
        command = ["bash", str(path)] if rendering == "bash" else [sys.executable, str(path)]
        command += [argument for name, value in inputs.items() for argument in (f"--{xform_name(name, '-')}", value)]
        command += ["--secrets-file", str(secrets_file)] if secrets_file else []
    command += ["--endpoint-url", endpoint]
    # Only the fake credentials and region: nothing from the developer's own AWS setup. The AWS CLI
    # the bash script calls is the one installed beside this Python.
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYSYNTH_"))}
    environment.update(MOTO_ENVIRONMENT, **secrets)
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=RUN_SECONDS,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{path.name} exited with {done.returncode}:\n{done.stderr}"
    if secrets_file is not None:
        for secret in json.loads(secrets_file.read_text()).values():
            assert secret not in done.stdout and secret not in done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_the_golden_runbook_runs_against_moto(example, rendering, moto, tmp_path):
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST"), timeout=30).close()
    aws = Aws(moto)
    case = EXAMPLES[example]
    inputs = case.setup(aws)
    secrets_file = tmp_path / "secrets.json" if case.created_secrets and rendering != "ssm" else None
    outputs = run_rendering(
        rendering, GOLDEN / f"{example}.{RENDERINGS[rendering]}", moto, inputs, case.secrets, secrets_file)
    if secrets_file is not None:
        # The secret keys the steps created, kept where only the user can read them.
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        kept = json.loads(secrets_file.read_text())
        assert sorted(kept) == sorted(case.created_secrets)
        assert all(len(secret) == 40 for secret in kept.values())
    # Every rendering prints the outputs the SSM document declares.
    runbook = load_runbook(GOLDEN / f"{example}.ssm.yaml")
    assert sorted(outputs) == sorted(f"{step.name}.{output.name}" for step in runbook.steps for output in step.outputs)
    case.check(aws, inputs, outputs)
