"""Small demonstrations with repeated work, as traces `pysynth record` writes (full responses)
or as CloudTrail logs them (reads without responses): the instances the loop tests run on."""

from __future__ import annotations

from pathlib import Path

from conftest import make_record, write_log

ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def at(second: int) -> str:
    return f"2024-03-05T10:{second // 60:02d}:{second % 60:02d}Z"


def s3(name: str, second: int, request: dict, response: dict | None = None) -> dict:
    return make_record(name, source="s3.amazonaws.com", time=at(second), request=request, response=response)


def ec2(name: str, second: int, request: dict, response: dict | None = None) -> dict:
    return make_record(name, source="ec2.amazonaws.com", time=at(second), request=request, response=response)


def iam(name: str, second: int, request: dict, response: dict | None = None) -> dict:
    return make_record(name, time=at(second), request=request, response=response)


def bucket_encryption(directory: Path, listed: list[str], acted: list[str], recorded: bool = True,
                      name: str = "buckets.json") -> Path:
    """ListBuckets (its response recorded, or not as in CloudTrail), then PutBucketEncryption on
    ``acted`` in the order listed."""
    response = {"Buckets": [{"Name": bucket, "CreationDate": "2024-01-01T00:00:00Z"} for bucket in listed],
                "Owner": {"ID": "abc"}}
    records = [s3("ListBuckets", 0, {}, response if recorded else None)]
    records += [s3("PutBucketEncryption", second, {"Bucket": bucket, "ServerSideEncryptionConfiguration": ENCRYPTION})
                for second, bucket in enumerate(acted, start=1)]
    return write_log(directory / name, records)


VPC = "vpc-0123456789abcdef0"


def subnets_tagged(directory: Path, cidrs: list[str], name: str = "app-{number}") -> Path:
    """For each CIDR block: CreateSubnet in one VPC, then CreateTags on the new subnet with the
    Name tag ``name`` (``app-<n>``, or ``{vpc}-<n>``): a two-call body whose second call reads the
    first one's output."""
    records = []
    for number, cidr in enumerate(cidrs, start=1):
        subnet = f"subnet-0a1b2c3d4e5f6{number:04d}"
        records.append(ec2("CreateSubnet", 2 * number, {"VpcId": VPC, "CidrBlock": cidr},
                           {"Subnet": {"SubnetId": subnet, "VpcId": VPC, "CidrBlock": cidr,
                                       "State": "pending"}}))
        records.append(ec2("CreateTags", 2 * number + 1,
                           {"Resources": [subnet], "Tags": [{"Key": "Name", "Value": name.format(number=number, vpc=VPC)}]}))
    return write_log(directory / "subnets.json", records)


def users_in_groups(directory: Path, users: list[str], groups: list[str]) -> Path:
    """For each user, for each group: AddUserToGroup (CloudTrail: no responses)."""
    records, second = [], 0
    for user in users:
        for group in groups:
            second += 1
            records.append(iam("AddUserToGroup", second, {"UserName": user, "GroupName": group}))
    return write_log(directory / "memberships.json", records)


def instances_stopped(directory: Path, states: dict[str, str]) -> Path:
    """DescribeInstances (recorded), then StopInstances once per running instance."""
    reservation = {"Instances": [{"InstanceId": instance, "State": {"Code": 16 if state == "running" else 80, "Name": state},
                                  "InstanceType": "t3.micro"} for instance, state in states.items()]}
    records = [ec2("DescribeInstances", 0, {}, {"Reservations": [reservation]})]
    running = [instance for instance, state in states.items() if state == "running"]
    records += [ec2("StopInstances", second, {"InstanceIds": [instance]},
                    {"StoppingInstances": [{"InstanceId": instance, "CurrentState": {"Code": 64, "Name": "stopping"},
                                            "PreviousState": {"Code": 16, "Name": "running"}}]})
                for second, instance in enumerate(running, start=1)]
    return write_log(directory / "instances.json", records)


def names_reused(directory: Path) -> Path:
    """alice creates the bucket acme-data and the role acme-app, then names a log bucket
    acme-data-logs and a policy acme-app-data-reader: names built from names she chose once."""
    return write_log(directory / "names.json", [
        s3("CreateBucket", 1, {"Bucket": "acme-data"}),
        iam("CreateRole", 2, {"RoleName": "acme-app", "AssumeRolePolicyDocument": "{}"},
            {"role": {"roleName": "acme-app", "roleId": "AROAEXAMPLE", "path": "/",
                      "arn": "arn:aws:iam::111122223333:role/acme-app", "createDate": "Mar 5, 2024 10:00:02 AM"}}),
        s3("CreateBucket", 3, {"Bucket": "acme-data-logs"}),
        iam("CreatePolicy", 4, {"PolicyName": "acme-app-data-reader", "PolicyDocument": "{}"}),
    ])


def sqs(name: str, second: int, request: dict, response: dict | None = None) -> dict:
    return make_record(name, source="sqs.amazonaws.com", time=at(second), request=request, response=response)


def queues_created_then_deleted(directory: Path) -> Path:
    """Three queues, each made its own way, then each deleted by the URL its creation returned: the
    deletions repeat over values that come from three different steps."""
    records, urls = [], []
    for second, (name, timeout) in enumerate((("orders", "30"), ("billing", "60"), ("audit", "90")), start=1):
        url = f"https://sqs.eu-west-1.amazonaws.com/111122223333/{name}"
        urls.append(url)
        records.append(sqs("CreateQueue", second, {"QueueName": name, "Attributes": {"VisibilityTimeout": timeout}},
                           {"QueueUrl": url}))
    records += [sqs("DeleteQueue", second, {"QueueUrl": url}) for second, url in enumerate(urls, start=10)]
    return write_log(directory / "queues.json", records)


def instances_started_then_stopped(directory: Path) -> Path:
    """Three instances started, each of its own type, then each stopped by the id its start
    returned: one StopInstances call can take the three ids, which come from three steps."""
    records, ids = [], []
    for second, kind in enumerate(("t3.micro", "t3.small", "m5.large"), start=1):
        instance = f"i-0abc{second:013d}"
        ids.append(instance)
        records.append(ec2("RunInstances", second, {"ImageId": "ami-03cf127a", "InstanceType": kind, "MinCount": 1,
                                                    "MaxCount": 1},
                           {"Instances": [{"InstanceId": instance, "InstanceType": kind,
                                           "State": {"Code": 0, "Name": "pending"}}]}))
    records += [ec2("StopInstances", second, {"InstanceIds": [instance]},
                    {"StoppingInstances": [{"InstanceId": instance, "CurrentState": {"Code": 64, "Name": "stopping"}}]})
                for second, instance in enumerate(ids, start=10)]
    return write_log(directory / "started.json", records)
