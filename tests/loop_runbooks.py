"""Runbooks with loops, built with the model's dataclasses as the synthesizer would build them from a
demonstration: the render tests and the emulator tests share them."""

from __future__ import annotations

from pysynth.model import (
    LOOP,
    WAIT_FOR_PROPERTY,
    Condition,
    GlobalRef,
    IndexRef,
    Input,
    InputRef,
    ItemRef,
    Loop,
    Output,
    OutputRef,
    RecordRef,
    Retry,
    Runbook,
    Step,
    Template,
    Wait,
)
from pysynth.paths import list_selector

LOG = "logs/2024/03/05/trail.json.gz"


def record(index: int) -> RecordRef:
    return RecordRef(LOG, index, f"event-{index}", f"2024-03-05T10:00:{index:02d}Z")


def list_output(name: str, path: str, where: Condition | None = None) -> Output:
    return Output(name, list_selector(path, where), "StringList", path, where=where)


def loop_step(name: str, over: InputRef | OutputRef | list, steps: list[Step], iterations: int) -> Step:
    return Step(name, "", "", {}, action=LOOP, loop=Loop(over, steps, iterations))


def encrypt_buckets(prefix: str = "logs-") -> Runbook:
    """ListBuckets, then PutBucketEncryption on each bucket whose name starts with ``prefix``."""
    names = list_output("Names", "Buckets[*].Name", Condition("Buckets[*]", "Name", "prefix", prefix))
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": InputRef("KeyId")}}]}
    return Runbook(
        description=f"Encrypt every bucket whose name starts with {prefix}.",
        inputs=[Input("KeyId", "String", "The KMS key that encrypts the buckets.", default="alias/logs")],
        steps=[
            Step("ListBuckets", "s3", "ListBuckets", {}, outputs=[names], records=[record(1)]),
            loop_step("EachBucket", OutputRef("ListBuckets", "Names"), [
                Step("PutBucketEncryption", "s3", "PutBucketEncryption",
                     {"Bucket": ItemRef("EachBucket"), "ServerSideEncryptionConfiguration": encryption},
                     records=[record(2)]),
            ], iterations=3),
        ],
    )


def subnets_per_zone() -> Runbook:
    """For each zone of an input list: a subnet numbered by the iteration, waited for, then tagged
    with its new id and a name derived from the VPC and the iteration."""
    zone = "EachZone"
    subnet = OutputRef("CreateSubnet", "SubnetId")
    return Runbook(
        description="One subnet per availability zone.",
        inputs=[
            Input("VpcId", "String", "The VPC of the subnets.", default="vpc-0123456789abcdef0"),
            Input("Zones", "StringList", "The availability zones.", default=["eu-west-1a", "eu-west-1b"]),
        ],
        steps=[loop_step(zone, InputRef("Zones"), [
            Step("CreateSubnet", "ec2", "CreateSubnet", {
                "VpcId": InputRef("VpcId"), "AvailabilityZone": ItemRef(zone),
                "CidrBlock": Template(("10.0.", IndexRef(zone), ".0/24")),
            }, outputs=[Output("SubnetId", "$.Subnet.SubnetId", "String", "Subnet.SubnetId")], records=[record(1)]),
            Step("SubnetAvailable", "ec2", "DescribeSubnets", {"SubnetIds": [subnet]}, action=WAIT_FOR_PROPERTY,
                 wait=Wait("SubnetAvailable", "$.Subnets[0].State", ["available"], 1, 10), records=[record(2)]),
            Step("CreateTags", "ec2", "CreateTags", {
                "Resources": [subnet],
                "Tags": [{"Key": "Name", "Value": Template((InputRef("VpcId"), "-", IndexRef(zone)))},
                         {"Key": "zone", "Value": ItemRef(zone)}],
            }, retry=Retry(3, ["InvalidSubnetID.NotFound"]), records=[record(3), record(4)]),
        ], iterations=2)],
    )


def users_to_groups() -> Runbook:
    """Each user of one input list into each group of another: two nested loops."""
    return Runbook(
        description="Add users to groups.",
        inputs=[
            Input("UserNames", "StringList", "The users.", default=["alice", "bob"]),
            Input("GroupNames", "StringList", "Their groups.", default=["admins", "auditors", "ops"]),
        ],
        steps=[loop_step("EachUser", InputRef("UserNames"), [
            loop_step("EachGroup", InputRef("GroupNames"), [
                Step("AddUserToGroup", "iam", "AddUserToGroup",
                     {"UserName": ItemRef("EachUser"), "GroupName": ItemRef("EachGroup")}, records=[record(1)]),
            ], iterations=3),
        ], iterations=2)],
    )


def stop_running_instances() -> Runbook:
    """DescribeInstances, then one StopInstances with every running instance's id."""
    running = Condition("Reservations[*].Instances[*]", "State.Name", "equals", "running")
    ids = list_output("RunningIds", "Reservations[*].Instances[*].InstanceId", running)
    return Runbook(
        description="Stop every running instance.",
        inputs=[],
        steps=[
            Step("DescribeInstances", "ec2", "DescribeInstances", {}, outputs=[ids], records=[record(1)]),
            Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": OutputRef("DescribeInstances", "RunningIds")},
                 batch="InstanceIds", records=[record(2), record(3), record(4)]),
        ],
    )


def keys_for_users() -> Runbook:
    """For each user of an input list: create the user and an access key, whose secret the scripts
    keep in the secrets file under the iteration's name."""
    return Runbook(
        description="Users with access keys.",
        inputs=[Input("UserNames", "StringList", "The users.", default=["alice", "bob"])],
        steps=[loop_step("EachUser", InputRef("UserNames"), [
            Step("CreateUser", "iam", "CreateUser", {"UserName": ItemRef("EachUser")},
                 outputs=[Output("UserName", "$.User.UserName", "String", "User.UserName")], records=[record(1)]),
            Step("CreateAccessKey", "iam", "CreateAccessKey", {"UserName": OutputRef("CreateUser", "UserName")},
                 outputs=[Output("SecretAccessKey", "$.AccessKey.SecretAccessKey", "String",
                                 "AccessKey.SecretAccessKey", secret=True)], records=[record(2)]),
        ], iterations=2)],
    )


def tag_listed_objects(page_size: int = 2, prefix: str = "reports/", start_token: str | None = None) -> Runbook:
    """ListObjectsV2 a few keys at a time (the log's MaxKeys), then PutObjectTagging on each object
    whose key starts with ``prefix``, the tag numbered by the iteration: every page must be read,
    from the first, whatever page the logged call asked for (``start_token``)."""
    keys = list_output("Keys", "Contents[*].Key", Condition("Contents[*]", "Key", "prefix", prefix))
    listing = {"Bucket": InputRef("Bucket"), "MaxKeys": page_size}
    if start_token is not None:
        listing["ContinuationToken"] = start_token
    return Runbook(
        description="Tag the reports.",
        inputs=[Input("Bucket", "String", "The bucket of the reports.", default="audit-logs")],
        steps=[
            Step("ListObjectsV2", "s3", "ListObjectsV2", listing, outputs=[keys], records=[record(1)]),
            loop_step("EachKey", OutputRef("ListObjectsV2", "Keys"), [
                Step("PutObjectTagging", "s3", "PutObjectTagging", {
                    "Bucket": InputRef("Bucket"), "Key": ItemRef("EachKey"),
                    "Tagging": {"TagSet": [{"Key": "reviewed", "Value": Template(("pass-", IndexRef("EachKey")))}]},
                }, records=[record(2)]),
            ], iterations=2),
        ],
    )


def first_listed_key(page_size: int = 2, with_every_key: bool = False) -> Runbook:
    """ListObjectsV2 a few keys at a time, and one single value from it: the first key; with
    ``with_every_key``, the list of every key besides."""
    outputs = [Output("FirstKey", "$.Contents[0].Key", "String", "Contents[0].Key")]
    if with_every_key:
        outputs.append(list_output("Keys", "Contents[*].Key"))
    return Runbook(
        description="The first key of a bucket.",
        inputs=[Input("Bucket", "String", "The bucket.", default="audit-logs")],
        steps=[Step("ListObjectsV2", "s3", "ListObjectsV2", {"Bucket": InputRef("Bucket"), "MaxKeys": page_size},
                    outputs=outputs, records=[record(1)])],
    )


def tag_volume_sizes() -> Runbook:
    """DescribeVolumes, then one tag on a VPC per volume size: a list of numbers, walked as texts."""
    return Runbook(
        description="Note the volume sizes on a VPC.",
        inputs=[Input("VpcId", "String", "The VPC to tag.", default="vpc-0123456789abcdef0")],
        steps=[
            Step("DescribeVolumes", "ec2", "DescribeVolumes", {}, outputs=[list_output("Sizes", "Volumes[*].Size")],
                 records=[record(1)]),
            loop_step("EachSize", OutputRef("DescribeVolumes", "Sizes"), [
                Step("CreateTags", "ec2", "CreateTags", {"Resources": [InputRef("VpcId")], "Tags": [
                    {"Key": Template(("size-", IndexRef("EachSize"))), "Value": ItemRef("EachSize")}]},
                     records=[record(2)]),
            ], iterations=2),
        ],
    )


QUEUE_URL = Output("QueueUrl", "$.QueueUrl", "String", "QueueUrl")


def queues_cleaned_up() -> Runbook:
    """Three queues, each made with its own visibility timeout, then each deleted by the URL its
    creation returned: a loop over a gathered list of three steps' outputs."""
    made = [("CreateQueue", "QueueName", "orders", "30"), ("CreateQueue2", "QueueName2", "billing", "60"),
            ("CreateQueue3", "QueueName3", "audit", "90")]
    creates = [Step(step, "sqs", "CreateQueue", {"QueueName": InputRef(name), "Attributes": {"VisibilityTimeout": timeout}},
                    outputs=[QUEUE_URL], records=[record(number)])
               for number, (step, name, _, timeout) in enumerate(made, start=1)]
    return Runbook(
        description="Make three queues, then delete them.",
        inputs=[Input(name, "String", "The name of a queue.", default=default) for _, name, default, _ in made],
        steps=[*creates, loop_step("EachQueueUrl", [OutputRef(step.name, "QueueUrl") for step in creates], [
            Step("DeleteQueue", "sqs", "DeleteQueue", {"QueueUrl": ItemRef("EachQueueUrl")}, records=[record(4)]),
        ], iterations=3)],
    )


HOSTILE_KEY = "it's \"$(touch pwned)\" `id` * ü.txt"


def objects_under_gathered_keys() -> Runbook:
    """A bucket, then an object under each of four keys, each made its own way: an input, a template of
    an input, the region and hostile text, the log's literal text, and a template of the bucket's
    location (CreateBucket's output)."""
    return Runbook(
        description="Objects under the keys the log shows.",
        inputs=[Input("Bucket", "String", "The bucket.", default="reports"),
                Input("Key", "String", "A key.", default="summary.csv"),
                Input("Folder", "String", "A folder.", default="daily")],
        steps=[
            Step("CreateBucket", "s3", "CreateBucket", {"Bucket": InputRef("Bucket")},
                 outputs=[Output("Location", "$.Location", "String", "Location")], records=[record(1)]),
            loop_step("EachKey", [
                InputRef("Key"), Template((InputRef("Folder"), "/", GlobalRef("REGION"), "/" + HOSTILE_KEY)),
                HOSTILE_KEY, Template(("copy", OutputRef("CreateBucket", "Location"))),
            ], [
                Step("PutObject", "s3", "PutObject", {"Bucket": InputRef("Bucket"), "Key": ItemRef("EachKey")},
                     records=[record(2)]),
            ], iterations=4),
        ],
    )
