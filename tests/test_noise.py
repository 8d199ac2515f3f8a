"""Noise in a demonstration: a typo fixed, a resource created and deleted again unused, a duplicate
attempt. The noisy session synthesizes the clean session's runbook, every noise record is listed
with its reason, and --keep-noise gives the noisy runbook back; expected errors stay evidence."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ACCOUNT, make_record, run_cli, write_log
from pysynth.ingest.classify import CREATED_AND_DELETED, DUPLICATE_ATTEMPT, FIXED_FAILURE
from pysynth.ingest.select import Selection, ingest
from pysynth.noise import drop_noise

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def at(second: int) -> str:
    return f"2024-03-05T10:{second // 60:02d}:{second % 60:02d}Z"


def user(name: str, second: int) -> dict:
    return {"user": {"userName": name, "userId": f"AIDA{name.upper()}EXAMPLE", "path": "/",
                     "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "createDate": "Mar 5, 2024 10:00:00 AM"}}


def iam(name: str, second: int, request: dict, response: dict | None = None, error: str | None = None) -> dict:
    extra = {"errorCode": error, "errorMessage": f"{error} (as logged)"} if error else {}
    return make_record(name, time=at(second), request=request, response=response, **extra)


def clean_session() -> list[dict]:
    """Onboarding bob, after checking that he does not exist yet (GetUser's NoSuchEntity: an
    expected error, the condition the work depends on)."""
    return [
        iam("GetUser", 0, {"userName": "bob"}, error="NoSuchEntity"),
        iam("CreateUser", 10, {"userName": "bob"}, user("bob", 10)),
        iam("AttachUserPolicy", 20, {"userName": "bob", "policyArn": READ_ONLY}),
        iam("AddUserToGroup", 30, {"userName": "bob", "groupName": "developers"}),
        iam("CreateAccessKey", 40, {"userName": "bob"},
            {"accessKey": {"userName": "bob", "accessKeyId": "AKIAEXAMPLEKEY0001", "status": "Active",
                           "createDate": "Mar 5, 2024 10:00:40 AM"}}),
    ]


# Each kind of noise, as records to insert into the clean session, and the reason each gets.
NOISE = {
    "fixed failure": [
        (iam("AttachUserPolicy", 15, {"userName": "bob", "policyArn": READ_ONLY[:-1]}, error="NoSuchEntity"),
         "noise: fixed failure"),
    ],
    "created and deleted": [
        (iam("CreateGroup", 32, {"groupName": "developers-test"},
             {"group": {"groupName": "developers-test", "groupId": "AGPAEXAMPLETEST", "path": "/",
                        "arn": f"arn:aws:iam::{ACCOUNT}:group/developers-test", "createDate": "Mar 5, 2024 10:00:32 AM"}}),
         "noise: created and deleted unused"),
        (iam("DeleteGroup", 34, {"groupName": "developers-test"}), "noise: created and deleted unused"),
    ],
    "duplicate that failed": [
        (iam("CreateUser", 11, {"userName": "bob"}, error="EntityAlreadyExists"), "noise: duplicate attempt"),
    ],
    "duplicate that succeeded": [
        (iam("AttachUserPolicy", 21, {"userName": "bob", "policyArn": READ_ONLY}), "noise: duplicate attempt"),
    ],
}


def noisy_session(*kinds: str) -> tuple[list[dict], dict[int, str]]:
    """The clean session with the noise of ``kinds`` in it, and the reason of each noise record by
    its index in the log."""
    records = clean_session() + [record for kind in kinds for record, _ in NOISE[kind]]
    records.sort(key=lambda record: record["eventTime"])
    reasons = {id(record): reason for kind in kinds for record, reason in NOISE[kind]}
    return records, {index: reasons[id(record)] for index, record in enumerate(records) if id(record) in reasons}


def runbook(result) -> dict:
    """The runbook a ``synth --format json`` printed, without what tells logs apart (the records'
    files and indexes, the solver's time): each step says how many records it stands for."""
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    del document["solution"]["seconds"]
    for step in document["steps"]:
        step["records"] = len(step["records"])
    return document


@pytest.mark.parametrize("kinds", [[kind] for kind in NOISE] + [list(NOISE)], ids=[*NOISE, "all"])
def test_noise_is_dropped_with_its_reason_and_the_runbook_is_the_clean_one(tmp_path, kinds):
    clean = write_log(tmp_path / "clean.json", clean_session())
    records, reasons = noisy_session(*kinds)
    noisy = write_log(tmp_path / "noisy.json", records)
    assert runbook(run_cli("synth", "--format", "json", str(noisy))) == runbook(run_cli("synth", "--format", "json", str(clean)))
    dropped = run_cli("events", "--dropped", "--json", str(noisy)).json_lines()
    noise = {line["record"]["index"]: line["reason"] for line in dropped if line["reason"].startswith("noise: ")}
    assert noise.keys() == reasons.keys()
    for index, reason in reasons.items():
        assert noise[index].startswith(reason), noise[index]
    # The expected error is no noise: it stays a failed call, the evidence a branch is built on.
    assert [(line["event_name"], line["reason"]) for line in dropped if line["record"]["index"] == 0] == [
        ("GetUser", "failed call (NoSuchEntity)")]


def test_the_synth_summary_and_the_events_summary_account_for_the_noise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short names: the summary's rows begin with each record's
    records, reasons = noisy_session(*NOISE)
    write_log(tmp_path / "noisy.json", records)
    synthesized = run_cli("synth", "noisy.json")
    assert synthesized.code == 0, synthesized.stderr
    assert "5 calls dropped; --keep-noise keeps them" in synthesized.stderr
    for index in reasons:
        assert f"│ noisy.json record {index} " in synthesized.stderr
    summary = run_cli("events", "noisy.json").stderr
    assert "dropped: noise: duplicate attempt" in summary and "dropped: noise: fixed failure" in summary
    assert "dropped: noise: created and deleted unused │     2" in summary


def test_keep_noise_gives_the_noisy_runbook(tmp_path):
    records, _ = noisy_session(*NOISE)
    noisy = str(write_log(tmp_path / "noisy.json", records))
    kept = runbook(run_cli("synth", "--format", "json", "--keep-noise", noisy))
    assert [step["api"] for step in kept["steps"]] == [
        "CreateUser", "AttachUserPolicy", "AddUserToGroup", "CreateGroup", "DeleteGroup", "CreateAccessKey"]
    # The second AttachUserPolicy is a retry merged into the step again.
    assert kept["steps"][1]["records"] == 2
    assert "noise" not in run_cli("synth", "--keep-noise", noisy).stderr
    shown = run_cli("events", "--dropped", "--json", "--keep-noise", noisy).json_lines()
    assert not [line for line in shown if line["reason"].startswith("noise: ")]
    assert run_cli("facts", "--keep-noise", noisy).stdout.startswith("% pysynth facts: 7 calls, ")
    assert run_cli("facts", noisy).stdout.startswith("% pysynth facts: 4 calls, ")


def test_verify_and_compare_read_the_log_without_its_noise(tmp_path):
    records, _ = noisy_session(*NOISE)
    noisy = str(write_log(tmp_path / "noisy.json", records))
    document = tmp_path / "runbook.yaml"
    assert run_cli("synth", noisy, "-o", str(document)).code == 0
    assert run_cli("verify", str(document), noisy).code == 0
    # With its noise, the log has calls the runbook does not make.
    assert run_cli("verify", "--keep-noise", str(document), noisy).code == 5
    steps = re.compile(r"cost: steps +│ (\d+)")
    assert steps.search(run_cli("compare", "-n", "1", noisy).stdout).group(1) == "4"
    assert steps.search(run_cli("compare", "-n", "1", "--keep-noise", noisy).stdout).group(1) == "6"


# --------------------------------------------------------------------------- what is not noise


def dropped_by_noise(tmp_path, records: list[dict]) -> list[tuple[int, str]]:
    ingested = ingest([str(write_log(tmp_path / "log.json", records))], Selection(all_principals=True))
    kinds = (FIXED_FAILURE, CREATED_AND_DELETED, DUPLICATE_ATTEMPT)
    return [(event.index, next(kind for kind in kinds if event.reason.startswith(kind)).removeprefix("noise: "))
            for event in drop_noise(ingested.events)]


def ec2(name: str, second: int, request: dict, response: dict | None = None, error: str | None = None) -> dict:
    extra = {"errorCode": error, "errorMessage": f"{error} (as logged)"} if error else {}
    return make_record(name, source="ec2.amazonaws.com", time=at(second), request=request, response=response, **extra)


def test_a_dry_run_and_a_retry_of_the_same_request_are_not_noise(tmp_path):
    run = {"imageId": "ami-0abc1234", "instanceType": "t3.micro", "minCount": 1, "maxCount": 1}
    records = [
        ec2("RunInstances", 0, {**run, "dryRun": True}, error="DryRunOperation"),
        ec2("RunInstances", 1, run, {"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}}),
        iam("AttachUserPolicy", 2, {"userName": "bob", "policyArn": READ_ONLY}, error="Throttling"),
        iam("AttachUserPolicy", 3, {"userName": "bob", "policyArn": READ_ONLY}),
    ]
    assert dropped_by_noise(tmp_path, records) == []


def test_only_a_write_fixed_right_away_is_a_fixed_failure(tmp_path):
    typo = iam("CreateUser", 0, {"userName": "bbo"}, error="InvalidInput")
    fixed = iam("CreateUser", 2, {"userName": "bob"}, user("bob", 2))
    assert dropped_by_noise(tmp_path, [typo, fixed]) == [(0, "fixed failure")]
    # Throttled, the request was not wrong: what came next fixed nothing.
    throttled = iam("CreateUser", 0, {"userName": "carol"}, error="Throttling")
    assert dropped_by_noise(tmp_path, [throttled, fixed]) == []
    # Other work succeeded before the next CreateUser: that is another user, not the typo fixed.
    other_work = iam("AddUserToGroup", 1, {"userName": "alice", "groupName": "developers"})
    assert dropped_by_noise(tmp_path, [typo, other_work, fixed]) == []
    # Another principal's CreateUser fixes nothing of alice's.
    assert dropped_by_noise(tmp_path, [typo, {**fixed, "userIdentity": {**fixed["userIdentity"], "arn": "arn:aws:iam::"
                                                                         f"{ACCOUNT}:user/mallory"}}]) == []
    # A read's failure is evidence of what exists: the console checking one bucket without a
    # public access block, then another with one.
    reads = [make_record("GetPublicAccessBlock", source="s3.amazonaws.com", time=at(second), request={"bucketName": name},
                         **({"errorCode": "NoSuchPublicAccessBlockConfiguration"} if second == 0 else {}))
             for second, name in enumerate(["logs", "site"])]
    assert dropped_by_noise(tmp_path, reads) == []


def test_a_failure_whose_request_succeeds_later_is_retry_evidence(tmp_path):
    def delete(second: int, group: str, error: str | None = None) -> dict:
        return ec2("DeleteSecurityGroup", second, {"groupId": group}, error=error)

    records = [delete(0, "sg-0aaaaaaaaaaaaaaaa", "DependencyViolation"), delete(1, "sg-0bbbbbbbbbbbbbbbb"),
               ec2("TerminateInstances", 2, {"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}}),
               delete(3, "sg-0aaaaaaaaaaaaaaaa")]
    assert dropped_by_noise(tmp_path, records) == []
    assert dropped_by_noise(tmp_path, records[:3]) == [(0, "fixed failure")]


def test_a_created_resource_used_before_its_deletion_is_not_noise(tmp_path):
    records = [
        iam("CreateUser", 0, {"userName": "temp"}, user("temp", 0)),
        iam("AttachUserPolicy", 1, {"userName": "temp", "policyArn": READ_ONLY}),
        iam("DeleteUser", 2, {"userName": "temp"}),
    ]
    assert dropped_by_noise(tmp_path, records) == []
    assert dropped_by_noise(tmp_path, [records[0], records[2]]) == [
        (0, "created and deleted unused"), (1, "created and deleted unused")]
    # Resources set up, then torn down: other changes come between each creation and its deletion.
    def queues(deleted: list[str]) -> list[dict]:
        url = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/{{}}"
        return [make_record("CreateQueue", source="sqs.amazonaws.com", time=at(second), request={"queueName": name},
                            response={"queueUrl": url.format(name)}) for second, name in enumerate(["orders", "billing"])
                ] + [make_record("DeleteQueue", source="sqs.amazonaws.com", time=at(second), request={"queueUrl": url.format(name)})
                     for second, name in enumerate(deleted, start=5)]

    assert dropped_by_noise(tmp_path, queues(["orders", "billing"])) == []
    # Deleting the last first is the very next change after its creation.
    assert dropped_by_noise(tmp_path, queues(["billing", "orders"])) == [
        (1, "created and deleted unused"), (2, "created and deleted unused")]


def test_a_resource_deleted_by_the_id_its_creation_returned(tmp_path):
    group = "sg-0123456789abcdef0"
    records = [
        ec2("CreateSecurityGroup", 0, {"groupName": "scratch", "groupDescription": "x", "vpcId": "vpc-0a1b2c3d"},
            {"_return": True, "groupId": group}),
        ec2("DeleteSecurityGroup", 1, {"groupId": group}),
    ]
    assert dropped_by_noise(tmp_path, records) == [(0, "created and deleted unused"), (1, "created and deleted unused")]


def test_deleting_the_parent_of_a_sub_resource_is_not_deleting_the_sub_resource(tmp_path):
    # CreateLoginProfile names bob, who existed before it: DeleteUser deletes the user the
    # session worked on, not something the login profile made.
    records = [
        iam("CreateUser", 0, {"userName": "bob"}, user("bob", 0)),
        iam("CreateLoginProfile", 1, {"userName": "bob", "password": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        iam("DeleteUser", 2, {"userName": "bob"}),
    ]
    assert dropped_by_noise(tmp_path, records) == []


def test_a_repeat_after_a_use_of_the_first_is_no_duplicate(tmp_path):
    instances = {"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}}
    records = [ec2(name, second, instances) for second, name in enumerate(["StartInstances", "StopInstances", "StartInstances"])]
    assert dropped_by_noise(tmp_path, records) == []
    # A failure between two successes of one request is the retry evidence of the second: neither
    # is a duplicate (the synthesis merges the three into one retried step).
    policy = {"userName": "bob", "policyArn": READ_ONLY}
    retried = [iam("AttachUserPolicy", 0, policy), iam("AttachUserPolicy", 1, policy, error="Throttling"),
               iam("AttachUserPolicy", 2, policy)]
    assert dropped_by_noise(tmp_path, retried) == []
    assert dropped_by_noise(tmp_path, [retried[0], retried[2]]) == [(1, "duplicate attempt")]
