"""Ordering and selection: time order across files, causal tie-breaks, duplicates, and a reason
for every record that is not kept."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ACCOUNT, make_record, write_log
from pysynth.ingest import engines, parsing
from pysynth.ingest.select import AS_EVENTS, AS_JSON, AmbiguousPrincipal, Ingested, LeftOut, Selection, ingest

POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@dataclass
class Read:
    """What ``ingest`` held, and every record it handed on as left out of the selection."""

    ingested: Ingested
    left_out: list

    @property
    def events(self) -> list:
        """Every record's event, in time order (the held ones in their own order within a second)."""
        return sorted(self.ingested.events + self.left_out, key=lambda event: event.epoch)

    def __getattr__(self, name):
        return getattr(self.ingested, name)


def run(tmp_path, records, selection=None, files=None) -> Read:
    paths = files or [write_log(tmp_path / "log.json", records)]
    left_out: list = []
    ingested = ingest([str(p) for p in paths], selection or Selection(), left_out=LeftOut(AS_EVENTS, left_out.extend))
    return Read(ingested, left_out)


def test_same_second_records_follow_the_data_flow_not_the_log_order(tmp_path):
    # Real CloudTrail logs AttachUserPolicy before the CreateUser it depends on, in one second.
    attach = make_record("AttachUserPolicy", request={"userName": "bob", "policyArn": POLICY})
    create = make_record(
        "CreateUser",
        request={"userName": "bob"},
        response={"user": {"userName": "bob", "userId": "AIDAEXAMPLEBOB", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
                           "path": "/", "createDate": "Mar 5, 2024 10:00:00 AM"}},
    )
    ingested = run(tmp_path, [attach, create])
    assert [e.operation for e in ingested.events] == ["CreateUser", "AttachUserPolicy"]


def test_without_evidence_the_log_order_is_kept_within_a_second(tmp_path):
    first = make_record("CreateUser", request={"userName": "carol"})
    second = make_record("CreateGroup", request={"groupName": "ops"})
    assert [e.operation for e in run(tmp_path, [first, second]).events] == ["CreateUser", "CreateGroup"]


def test_records_are_merged_across_files_by_time(tmp_path):
    late = write_log(tmp_path / "a.json", [make_record("CreateGroup", time="2024-03-05T10:00:09Z", request={"groupName": "g"})])
    early = write_log(tmp_path / "b.json.gz", [make_record("CreateUser", time="2024-03-05T10:00:01Z", request={"userName": "u"})])
    ingested = run(tmp_path, None, files=[late, early])
    assert [e.operation for e in ingested.events] == ["CreateUser", "CreateGroup"]
    assert ingested.files_read == 2


def test_a_record_delivered_twice_is_kept_once(tmp_path):
    record = make_record("CreateUser", request={"userName": "dave"})
    one = write_log(tmp_path / "one.json", [record])
    two = write_log(tmp_path / "two.json", [record])
    ingested = run(tmp_path, None, files=[one, two])
    assert [e.status for e in ingested.events] == ["kept", "dropped"]
    assert ingested.events[1].reason == f"duplicate of {one} record 0 (same eventID)"


def test_a_reused_event_id_on_different_records_is_not_a_duplicate(tmp_path):
    records = [
        make_record("CreateUser", request={"userName": "erin"}, event_id="1"),
        make_record("CreateGroup", request={"groupName": "ops"}, event_id="1"),
    ]
    assert [e.status for e in run(tmp_path, records).events] == ["kept", "kept"]


@pytest.mark.parametrize(
    "record, reason",
    [
        (make_record("GetUser", request={"userName": "bob"}), "read-only call"),
        (make_record("CreateUser", request={"userName": "bob"}, errorCode="EntityAlreadyExists"),
         "failed call (EntityAlreadyExists)"),
        (make_record("AssumeRole", source="sts.amazonaws.com", readOnly=True,
                     request={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/r", "roleSessionName": "s"}),
         "STS/sign-in noise (AssumeRole): credentials, not a change"),
        (make_record("ConsoleLogin", source="signin.amazonaws.com", eventType="AwsConsoleSignIn"),
         "not an API call (AwsConsoleSignIn)"),
        (make_record("SendCommand", source="ec2messages.amazonaws.com"),
         "SSM agent message channel, not a user's API call"),
        (make_record("UpdateInstanceInformation", source="ssm.amazonaws.com", request={"instanceId": "i-0abc"}),
         "SSM agent heartbeat, not a user's API call"),
        (make_record("UpdateInstanceAssociationStatus", source="ssm.amazonaws.com",
                     userAgent="aws-sdk-go/1.41.4 (go1.18.3; linux; amd64) amazon-ssm-agent/"),
         "SSM agent traffic, not a user's API call"),
        (make_record("CreateServiceLinkedRole", userIdentity={"type": "AWSService", "invokedBy": "rds.amazonaws.com"},
                     request={"aWSServiceName": "rds.amazonaws.com"}),
         "made by rds.amazonaws.com on the user's behalf"),
        (make_record("PutRolePolicy", userIdentity={"type": "AssumedRole",
                     "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForRDS/SLRManagement"}),
         "made by service-linked role AWSServiceRoleForRDS on the user's behalf"),
        (make_record("DoSomething", source="nosuchservice.amazonaws.com"),
         'not mapped: unknown service "nosuchservice.amazonaws.com"'),
    ],
    ids=["read-only", "failed", "sts", "console-sign-in", "agent-channel", "agent-heartbeat", "agent-user-agent", "aws-service",
         "service-linked-role", "unknown-service"],
)
def test_every_dropped_record_says_why(tmp_path, record, reason):
    [event] = run(tmp_path, [record]).events
    assert (event.status, event.reason) == ("dropped", reason)


def test_records_missing_fields_are_dropped_and_named(tmp_path):
    record = make_record("CreateUser")
    del record["eventSource"]
    [event] = run(tmp_path, [record]).events
    assert event.reason == "malformed record: no eventSource"


def test_read_only_calls_stay_available_as_evidence(tmp_path):
    records = [make_record("CreateUser", request={"userName": "bob"}),
               make_record("GetUser", request={"userName": "bob"}, time="2024-03-05T10:00:02Z")]
    ingested = run(tmp_path, records)
    assert [e.operation for e in ingested.kept] == ["CreateUser"]
    assert [e.operation for e in ingested.reads] == ["GetUser"]
    assert ingested.reads[0].call.params == {"UserName": "bob"}


def two_principals():
    return [make_record("CreateUser", request={"userName": "x"}, user="alice"),
            make_record("CreateGroup", request={"groupName": "y"}, user="mallory", time="2024-03-05T10:00:03Z"),
            make_record("CreateGroup", request={"groupName": "z"}, user="mallory", time="2024-03-05T10:00:04Z")]


def test_several_principals_with_writes_must_be_chosen_between(tmp_path):
    with pytest.raises(AmbiguousPrincipal) as raised:
        run(tmp_path, two_principals())
    assert dict(raised.value.writes) == {f"arn:aws:iam::{ACCOUNT}:user/alice": 1, f"arn:aws:iam::{ACCOUNT}:user/mallory": 2}


@pytest.mark.parametrize("name", ["mallory", f"arn:aws:iam::{ACCOUNT}:user/mallory", "AKIAEXAMPLEMALLORY"])
def test_principal_chosen_by_user_name_arn_or_access_key(tmp_path, name):
    ingested = run(tmp_path, two_principals(), Selection(principal=name))
    assert [e.event_name for e in ingested.kept] == ["CreateGroup", "CreateGroup"]
    assert ingested.events[0].reason == f"outside selection: principal arn:aws:iam::{ACCOUNT}:user/alice"


def test_principal_chosen_by_role_session_name(tmp_path):
    session = {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci-run-42"}
    records = two_principals() + [make_record("CreateGroup", request={"groupName": "w"}, userIdentity=session)]
    assert [e.principal.session_name for e in run(tmp_path, records, Selection(principal="ci-run-42")).kept] == ["ci-run-42"]


def test_time_and_region_selection(tmp_path):
    records = [make_record("CreateUser", request={"userName": f"u{n}"}, time=f"2024-03-05T10:00:0{n}Z") for n in range(5)]
    records[4]["awsRegion"] = "us-east-1"
    selection = Selection(since=1709632801.0, until=1709632804.0, regions=frozenset({"eu-west-1"}))
    ingested = run(tmp_path, records, selection)
    assert [e.call.params["UserName"] for e in ingested.kept] == ["u1", "u2", "u3"]
    assert [e.reason for e in ingested.events if not e.kept] == [
        "outside selection: before --since (2024-03-05T10:00:00Z)", "outside selection: region us-east-1"]


# --------------------------------------------------------------------------- reading on every core


def varied_records(file_number: int) -> list:
    """Records that exercise every path of reading: writes and reads, a failure, a hidden value,
    a record without its event source, one that is not an object, a re-delivered record."""
    time = f"2024-03-05T10:{file_number:02d}:00Z"
    return [
        make_record("CreateUser", request={"userName": f"u{file_number}"}, time=time,
                    response={"user": {"userName": f"u{file_number}", "userId": f"AIDA{file_number}",
                                       "arn": f"arn:aws:iam::{ACCOUNT}:user/u{file_number}", "path": "/",
                                       "createDate": "Mar 5, 2024 10:00:00 AM"}}),
        make_record("AddUserToGroup", request={"userName": f"u{file_number}", "groupName": "ops"}, time=time),
        make_record("GetUser", request={"userName": f"u{file_number}"}, time=time),
        make_record("CreateLoginProfile", request={"userName": f"u{file_number}", "password": "HIDDEN_DUE_TO_SECURITY_REASONS"},
                    time=time, errorCode="EntityAlreadyExists" if file_number % 3 == 0 else None),
        {**make_record("DeleteUser", time=time), "eventSource": None},
        ["not", "an", "object"],
        make_record("CreateGroup", request={"groupName": "ops"}, time="2024-03-05T10:00:00Z", event_id="same-everywhere"),
    ]


def many_files(tmp_path) -> list:
    for n in range(16):
        write_log(tmp_path / f"logs/{n:03d}.json.gz", varied_records(n))
    (tmp_path / "logs/005-empty.json").write_text("")
    (tmp_path / "logs/009-cut.json").write_text(json.dumps({"Records": varied_records(99)})[:-40])
    return [tmp_path / "logs"]


def one_large_file(tmp_path) -> list:
    return [write_log(tmp_path / "large.json", [record for n in range(16) for record in varied_records(n)])]


def one_large_json_lines_file(tmp_path) -> list:
    return [write_log(tmp_path / "large.jsonl.gz", [record for n in range(16) for record in varied_records(n)
                                                    if isinstance(record, dict)], layout="lines")]


def ingested_with(monkeypatch, paths, cores: int, on_progress=None) -> tuple[Ingested, list[bytes]]:
    monkeypatch.setattr(engines, "usable_cores", lambda: cores)
    lines: list[bytes] = []
    ingested = ingest([str(path) for path in paths], Selection(all_principals=True), on_progress=on_progress,
                      left_out=LeftOut(AS_JSON, lines.extend))
    return ingested, lines


def decisions(read: tuple[Ingested, list[bytes]]) -> tuple:
    """Everything ingest decides about every record, in order, to compare two ways of reading."""
    ingested, lines = read
    return (
        [(e.file, e.index, e.event_id, e.epoch, e.principal, e.read_only, e.call, e.status, e.reason,
          e.unmapped_reason) for e in ingested.events],
        b"".join(lines),
        [str(problem) for problem in ingested.problems],
        ingested.principal_writes, ingested.drop_counts(), ingested.records,
    )


@pytest.fixture
def small_thresholds(monkeypatch):
    """Workers and streaming for inputs of a few dozen records, so that tests can afford them."""
    monkeypatch.setattr(engines, "WARM_UP_BYTES", 1_000)
    monkeypatch.setattr(engines, "PARALLEL_MIN_BYTES", 2_000)
    monkeypatch.setattr(engines, "TASK_BYTES", 3_000)


def record_process_running(monkeypatch, log: Path):
    """Append the id of the process running each task to ``log``."""
    real_run = engines.SourcesTask.run

    def run(self, classifier):
        with log.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return real_run(self, classifier)

    monkeypatch.setattr(engines.SourcesTask, "run", run)


def test_workers_decide_exactly_what_reading_in_process_decides(tmp_path, monkeypatch, small_thresholds):
    paths = many_files(tmp_path)
    in_process = ingested_with(monkeypatch, paths, cores=1)
    record_process_running(monkeypatch, tmp_path / "processes")
    by_workers = ingested_with(monkeypatch, paths, cores=3)
    assert decisions(by_workers) == decisions(in_process)
    assert set((tmp_path / "processes").read_text().split()) - {str(os.getpid())}  # workers took tasks
    assert in_process[0].records > 100


@pytest.mark.parametrize("inputs", [one_large_file, one_large_json_lines_file])
def test_a_large_file_is_streamed_with_the_same_result(tmp_path, monkeypatch, inputs):
    paths = inputs(tmp_path)
    whole = ingested_with(monkeypatch, paths, cores=1)
    monkeypatch.setattr(parsing, "STREAM_MIN_BYTES", 100)
    monkeypatch.setattr(parsing, "HEAD_BYTES", 4096)
    monkeypatch.setattr(engines, "DRAIN_RECORDS", 7)
    monkeypatch.setattr(engines, "LARGE_SOURCE_BYTES", 100)

    def never_whole(name, data):
        raise AssertionError(f"{name} was read whole")

    monkeypatch.setattr(parsing, "records_of_bytes", never_whole)
    handed_on: list[int] = []
    streamed = ingested_with(monkeypatch, paths, cores=1, on_progress=lambda done, total, records: handed_on.append(records))
    assert decisions(streamed) == decisions(whole)
    assert len(handed_on) > 5  # what is left out is handed on while the file is read


def test_a_truncated_large_file_keeps_the_records_before_the_damage(tmp_path, monkeypatch):
    [path] = one_large_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-3000])
    monkeypatch.setattr(parsing, "STREAM_MIN_BYTES", 100)
    ingested, _ = ingested_with(monkeypatch, [path], cores=1)
    [problem] = [problem for problem in ingested.problems if problem.index is None]
    assert problem.message.startswith("truncated JSON") and problem.message.endswith("complete records")
    assert ingested.records > 90


def test_progress_is_reported_for_every_file_read_by_workers(tmp_path, monkeypatch, small_thresholds):
    paths = many_files(tmp_path)
    reported = []
    ingested, _ = ingested_with(monkeypatch, paths, cores=2, on_progress=lambda done, total, records: reported.append((done, total)))
    assert [done for done, _ in reported] == sorted(done for done, _ in reported)
    assert reported[-1] == (ingested.files_read, ingested.files_read)


@pytest.mark.parametrize("failure", ["exit", "raise"])
def test_a_failing_worker_costs_no_record_and_prints_nothing(tmp_path, monkeypatch, capfd, small_thresholds, failure):
    paths = many_files(tmp_path)
    in_process = ingested_with(monkeypatch, paths, cores=1)
    main_process = os.getpid()
    real_run = engines.SourcesTask.run

    def run(self, classifier):
        if os.getpid() != main_process:
            if failure == "exit":
                os._exit(1)  # as if killed: the pool breaks
            raise RuntimeError("worker failed")
        return real_run(self, classifier)

    monkeypatch.setattr(engines.SourcesTask, "run", run)
    capfd.readouterr()
    assert decisions(ingested_with(monkeypatch, paths, cores=2)) == decisions(in_process)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("platform, start_methods", [("linux", ["spawn"]), ("darwin", ["fork", "spawn"]), ("win32", ["spawn"])])
def test_without_a_safe_fork_everything_is_read_in_process(monkeypatch, platform, start_methods):
    monkeypatch.setattr(engines.sys, "platform", platform)
    monkeypatch.setattr(engines.multiprocessing, "get_all_start_methods", lambda: start_methods)
    assert engines.usable_cores() == 1


def test_insights_events_are_not_api_calls_and_not_malformed(tmp_path):
    insight = {"eventVersion": "1.07", "eventTime": "2024-03-05T10:00:00Z", "awsRegion": "eu-west-1",
               "eventID": "insight-1", "eventType": "AwsCloudTrailInsight", "eventCategory": "Insight",
               "insightDetails": {"eventSource": "ssm.amazonaws.com", "eventName": "UpdateInstanceInformation"}}
    [event] = run(tmp_path, [insight]).events
    assert event.reason == "not an API call (AwsCloudTrailInsight)"


def test_another_principals_record_is_written_as_its_event_would_be(tmp_path):
    """The fast line of a record outside a one-principal selection is byte for byte json_line's."""
    from pysynth.ingest.events import json_line

    odd = [
        make_record("CreateGroup", request={"groupName": "g"}, user="mallory"),
        make_record("GetUser", user="mallory", event_id="ünï \"quoted\" \\ 💥", awsRegion=""),
        {**make_record("PutObject", source="s3.amazonaws.com", user="mallory"), "eventID": 42, "readOnly": "no"},
        make_record("ListUsers", user="mallory", time="2024-03-05T10:00:00.123Z", readOnly=True),
        make_record("CreateUser", request={"userName": "u"}),
    ]
    path = write_log(tmp_path / "log.json", odd)
    fast: list[bytes] = []
    ingest([str(path)], Selection(principal="alice"), left_out=LeftOut(AS_JSON, fast.extend))
    slow: list = []
    ingest([str(path)], Selection(principal="alice"), left_out=LeftOut(AS_EVENTS, slow.extend))
    assert b"".join(fast) == b"".join(json_line(event) for event in slow)
    assert len(slow) == 4
