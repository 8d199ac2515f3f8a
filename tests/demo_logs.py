"""Small pairs of demonstrations of one task that went differently, as CloudTrail logs them (reads
without responses) or as `pysynth record` traces them (with responses): the instances the
tests of several demonstrations run on."""

from __future__ import annotations

from pathlib import Path

from conftest import ACCOUNT, make_record, write_log
from pysynth.demos import Demonstration
from pysynth.ingest.select import Selection, ingest

ENCRYPTION = {"ServerSideEncryptionConfiguration": {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}}}


def at(second: int) -> str:
    return f"2024-03-05T10:{second // 60:02d}:{second % 60:02d}Z"


def iam(name: str, second: int, request: dict, response: dict | None = None, **extra) -> dict:
    return make_record(name, time=at(second), request=request, response=response, **extra)


def ec2(name: str, second: int, request: dict, response: dict | None = None) -> dict:
    return make_record(name, source="ec2.amazonaws.com", time=at(second), request=request, response=response)


def s3(name: str, second: int, request: dict, response: dict | None = None) -> dict:
    return make_record(name, source="s3.amazonaws.com", time=at(second), request=request, response=response)


def created_user(user: str, second: int) -> dict:
    return iam("CreateUser", second, {"userName": user},
               {"user": {"userName": user, "userId": "AIDA" + user.upper(), "path": "/",
                         "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "createDate": "Mar 5, 2024 10:00:00 AM"}})


def user_ensured(user: str, group: str, exists: bool, start: int = 0) -> list[dict]:
    """GetUser; where it failed with NoSuchEntity, CreateUser; then AddUserToGroup."""
    if exists:
        records = [iam("GetUser", start, {"userName": user})]
    else:
        records = [iam("GetUser", start, {"userName": user}, errorCode="NoSuchEntityException",
                       errorMessage=f"The user with name {user} cannot be found."),
                   created_user(user, start + 1)]
    return records + [iam("AddUserToGroup", start + 2, {"userName": user, "groupName": group})]


def user_created_or_existing(user: str, exists: bool, start: int = 0) -> list[dict]:
    """CreateUser, which answered EntityAlreadyExists where the user existed; then AddUserToGroup."""
    if exists:
        records = [iam("CreateUser", start, {"userName": user}, errorCode="EntityAlreadyExistsException",
                       errorMessage=f"User with name {user} already exists.")]
    else:
        records = [created_user(user, start)]
    return records + [iam("AddUserToGroup", start + 2, {"userName": user, "groupName": "devs"})]


def user_onboarded(user: str, group: str | None, start: int = 0) -> list[dict]:
    """CreateUser; AddUserToGroup only where a group was given."""
    records = [created_user(user, start)]
    if group:
        records.append(iam("AddUserToGroup", start + 1, {"userName": user, "groupName": group}))
    return records + [iam("CreateLoginProfile", start + 2, {"userName": user, "passwordResetRequired": True})]


def instance_stopped_and_tagged(instance: str, state: str, start: int = 0) -> list[dict]:
    """DescribeInstances (response recorded); StopInstances only where it was running; CreateTags."""
    ids = {"instancesSet": {"items": [{"instanceId": instance}]}}
    response = {"reservationSet": {"items": [{"instancesSet": {"items": [
        {"instanceId": instance, "instanceState": {"code": 16 if state == "running" else 80, "name": state}}]}}]}}
    records = [ec2("DescribeInstances", start, ids, response)]
    if state == "running":
        records.append(ec2("StopInstances", start + 1, ids))
    return records + [ec2("CreateTags", start + 2, {"resourcesSet": {"items": [{"resourceId": instance}]},
                                                    "tagSet": {"items": [{"key": "checked", "value": "yes"}]}})]


def buckets_encrypted(listed: list[str], acted: list[str], start: int = 0) -> list[dict]:
    """ListBuckets (response recorded); PutBucketEncryption on ``acted``."""
    response = {"Buckets": [{"Name": bucket, "CreationDate": "2024-01-01T00:00:00Z"} for bucket in listed],
                "Owner": {"ID": "abc"}}
    return [s3("ListBuckets", start, {}, response)] + [
        s3("PutBucketEncryption", start + 1 + number, {"bucketName": bucket, **ENCRYPTION})
        for number, bucket in enumerate(acted)]


def demonstrations(directory: Path, *logs: list[dict]) -> list[Demonstration]:
    """Each list of records written as a log of its own and read as one demonstration."""
    found = []
    for number, records in enumerate(logs, start=1):
        path = write_log(directory / f"demo-{number}.json", records)
        ingested = ingest([str(path)], Selection(all_principals=True))
        found.append(Demonstration(path.name, ingested.kept, ingested.reads, ingested.failed))
    return found
