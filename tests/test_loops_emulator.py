"""Loops, derived values, batch steps and pagination in the bash and Python scripts, run for real
against moto's server (the AWS CLI from PyPI for bash, boto3 for Python), and in the SSM document
(through ``pysynth run``) where SSM can run them, each with inputs and an environment other than the
demonstration's, then checked against moto's state."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest

from loop_runbooks import (
    encrypt_buckets,
    first_listed_key,
    keys_for_users,
    stop_running_instances,
    subnets_per_zone,
    tag_listed_objects,
    tag_volume_sizes,
    users_to_groups,
)
from moto_server import REGION, moto_server  # noqa: F401 - the fixture
from pysynth.model import Runbook
from pysynth.render import render_checked
from test_emulator import RENDERINGS, run_rendering

SCRIPTS = ("bash", "python")
# SSM nests no loops, keeps no created secret and cannot skip a batch call on an empty list: the
# tests of those run the scripts only.
EVERY_RENDERING = ("ssm", *SCRIPTS)


@pytest.fixture
def aws(moto_server, tmp_path):  # noqa: F811 - the fixture
    """A fresh moto state; boto3 clients on it, and a way to run a runbook as a script."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=30).close()
    return Aws(moto_server, tmp_path)


class Aws:
    def __init__(self, endpoint: str, directory: Path):
        self.endpoint, self.directory = endpoint, directory
        self.s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        self.ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
        self.iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)

    def run(self, runbook: Runbook, rendering: str, inputs: dict[str, object] | None = None,
            secrets_file: Path | None = None) -> dict:
        """Renders the runbook, runs it with ``inputs`` (lists given as JSON, as a user types them)
        and returns the outputs it prints."""
        path = self.directory / f"runbook.{RENDERINGS[rendering]}"
        path.write_text(render_checked(runbook, rendering), encoding="utf-8")
        given = {name: value if isinstance(value, str) else json.dumps(value) for name, value in (inputs or {}).items()}
        return run_rendering(rendering, path, self.endpoint, given, {}, secrets_file)


def encryption_key(aws: Aws, bucket: str) -> str | None:
    try:
        rules = aws.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except aws.s3.exceptions.ClientError:
        return None
    return rules[0]["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID")


@pytest.mark.parametrize("rendering", EVERY_RENDERING)
def test_a_filtered_loop_encrypts_only_the_buckets_the_condition_keeps(aws, rendering):
    # Not the demonstration's buckets: other names, more of them, some close to the prefix.
    buckets = ["logs-web", "logs-api", "logs-batch", "backups", "app-logs", "logs", "logsx-1"]
    for bucket in buckets:
        aws.s3.create_bucket(Bucket=bucket)
    outputs = aws.run(encrypt_buckets(), rendering, {"KeyId": "alias/audit"})
    assert sorted(outputs["ListBuckets.Names"]) == ["logs-api", "logs-batch", "logs-web"]
    assert {bucket: encryption_key(aws, bucket) for bucket in buckets} == {
        "logs-web": "alias/audit", "logs-api": "alias/audit", "logs-batch": "alias/audit",
        "backups": None, "app-logs": None, "logs": None, "logsx-1": None,
    }


@pytest.mark.parametrize("rendering", EVERY_RENDERING)
def test_a_two_call_body_tags_each_new_subnet_with_a_derived_name(aws, rendering):
    vpc = aws.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zones = [f"{REGION}c", f"{REGION}a", f"{REGION}d"]  # three, where the log shows two
    aws.run(subnets_per_zone(), rendering, {"VpcId": vpc, "Zones": zones})
    subnets = aws.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    made = sorted((subnet["AvailabilityZone"], subnet["CidrBlock"], tags_of(subnet)) for subnet in subnets)
    assert made == sorted(
        (zone, f"10.0.{number}.0/24", {"Name": f"{vpc}-{number}", "zone": zone})
        for number, zone in enumerate(zones, 1)
    )


def tags_of(resource: dict) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}


@pytest.mark.parametrize("rendering", SCRIPTS)
def test_nested_loops_add_each_user_to_each_group(aws, rendering):
    users, groups = ["carol", "dave", "erin"], ["readers", "writers"]
    for user in users:
        aws.iam.create_user(UserName=user)
    for group in [*groups, "admins"]:
        aws.iam.create_group(GroupName=group)
    aws.run(users_to_groups(), rendering, {"UserNames": users, "GroupNames": groups})
    for user in users:
        joined = aws.iam.list_groups_for_user(UserName=user)["Groups"]
        assert sorted(group["GroupName"] for group in joined) == groups
    assert aws.iam.get_group(GroupName="admins")["Users"] == []


@pytest.mark.parametrize("rendering", SCRIPTS)
def test_a_batch_step_stops_every_running_instance_in_one_call(aws, rendering):
    image = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    started = [item["InstanceId"] for item in aws.ec2.run_instances(ImageId=image, MinCount=4, MaxCount=4)["Instances"]]
    # One already stopped and one terminated: stopping a terminated instance fails, so the filter must hold.
    aws.ec2.stop_instances(InstanceIds=[started[0]])
    aws.ec2.terminate_instances(InstanceIds=[started[1]])
    outputs = aws.run(stop_running_instances(), rendering)
    assert sorted(outputs["DescribeInstances.RunningIds"]) == sorted(started[2:])
    assert states(aws) == {started[0]: "stopped", started[1]: "terminated", started[2]: "stopped", started[3]: "stopped"}
    # Nothing runs now: the empty list makes no call (the API refuses an empty InstanceIds).
    assert aws.run(stop_running_instances(), rendering) == {"DescribeInstances.RunningIds": []}


def states(aws: Aws) -> dict[str, str]:
    reservations = aws.ec2.describe_instances()["Reservations"]
    return {item["InstanceId"]: item["State"]["Name"] for reservation in reservations for item in reservation["Instances"]}


@pytest.mark.parametrize("rendering", EVERY_RENDERING)
def test_a_loop_over_a_paginated_listing_reads_every_page(aws, rendering):
    # Keys a shell would split, glob or expand, among others the filter leaves out.
    reports = ["reports/q1.csv", "reports/q2 final.csv", "reports/it's \"ok\".csv", "reports/*", "reports/$(x)`y`"]
    aws.s3.create_bucket(Bucket="finance")
    for key in [*reports, "drafts/q3.csv", "reports-old.csv"]:
        aws.s3.put_object(Bucket="finance", Key=key, Body=b"")
    # Two keys a page: four pages, and the matching keys spread over them. The logged call asked for
    # a later page (moto fails on its token): the scripts, and SSM's script step, read from the first.
    assert len(aws.s3.list_objects_v2(Bucket="finance", MaxKeys=2)["Contents"]) == 2
    outputs = aws.run(tag_listed_objects(page_size=2, start_token="token-of-a-logged-page"), rendering,
                      {"Bucket": "finance"})
    assert sorted(outputs["ListObjectsV2.Keys"]) == sorted(reports)
    tags = {key: tags_of({"Tags": aws.s3.get_object_tagging(Bucket="finance", Key=key)["TagSet"]})
            for key in [*reports, "drafts/q3.csv", "reports-old.csv"]}
    assert sorted(tags[key]["reviewed"] for key in reports) == [f"pass-{number}" for number in range(1, 6)]
    assert tags["drafts/q3.csv"] == tags["reports-old.csv"] == {}
    # An empty bucket lists no Contents at all: an empty list, no iteration.
    aws.s3.create_bucket(Bucket="empty")
    assert aws.run(tag_listed_objects(), rendering, {"Bucket": "empty"}) == {"ListObjectsV2.Keys": []}


@pytest.mark.parametrize("rendering", EVERY_RENDERING)
def test_a_single_value_of_a_paginated_read_is_its_first_pages(aws, rendering):
    # The AWS CLI would read every page and print each page's first key: the scripts make one call,
    # and SSM's one call (or, beside a list, its script) gives the first page's.
    aws.s3.create_bucket(Bucket="finance")
    for key in ("a.csv", "b.csv", "c.csv", "d.csv", "e.csv"):
        aws.s3.put_object(Bucket="finance", Key=key, Body=b"")
    assert aws.run(first_listed_key(page_size=2), rendering, {"Bucket": "finance"}) == {"ListObjectsV2.FirstKey": "a.csv"}
    # Beside a list output, it is the first page's still, and the list has every page's keys.
    assert aws.run(first_listed_key(page_size=2, with_every_key=True), rendering, {"Bucket": "finance"}) == {
        "ListObjectsV2.FirstKey": "a.csv", "ListObjectsV2.Keys": ["a.csv", "b.csv", "c.csv", "d.csv", "e.csv"]}


@pytest.mark.parametrize("rendering", EVERY_RENDERING)
def test_a_list_of_numbers_is_walked_as_their_texts(aws, rendering):
    vpc = aws.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    for size in (8, 20, 100):
        aws.ec2.create_volume(Size=size, AvailabilityZone=f"{REGION}a")
    outputs = aws.run(tag_volume_sizes(), rendering, {"VpcId": vpc})
    assert outputs == {"DescribeVolumes.Sizes": ["8", "20", "100"]}
    tags = tags_of(aws.ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0])
    assert tags == {"size-1": "8", "size-2": "20", "size-3": "100"}


@pytest.mark.parametrize("rendering", SCRIPTS)
def test_secrets_created_in_a_loop_are_kept_per_iteration(aws, rendering):
    secrets_file = aws.directory / "secrets.json"
    aws.run(keys_for_users(), rendering, {"UserNames": ["frank", "grace", "heidi"]}, secrets_file=secrets_file)
    kept = json.loads(secrets_file.read_text())
    assert sorted(kept) == [f"EachUser[{number}].CreateAccessKey.SecretAccessKey" for number in (1, 2, 3)]
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert len(set(kept.values())) == 3 and all(len(secret) == 40 for secret in kept.values())
    for user in ("frank", "grace", "heidi"):
        assert len(aws.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]) == 1
