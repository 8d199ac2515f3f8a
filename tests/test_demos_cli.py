"""Demonstrations on the command line: the LOG arguments and each --demo are one demonstration each,
read with the same selection; --split cuts a log into several at idle gaps or by session, each
named after its log, its place and its start. One demonstration synthesizes as it always did, and
bad input is a one-line error."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ACCOUNT, make_record, run_cli, write_log
from pysynth.cli import _demonstrations
from pysynth.demos import parse_split
from pysynth.ingest.select import Selection


def at(minute: int, second: int = 0) -> str:
    return f"2024-03-05T10:{minute:02d}:{second:02d}Z"


def onboarding(name: str, minute: int, **extra) -> list[dict]:
    """``name`` created and given read-only access, in the minute ``minute``."""
    return [
        make_record("CreateUser", time=at(minute), request={"userName": name},
                    response={"user": {"userName": name, "userId": f"AIDA{name.upper()}", "path": "/",
                                       "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "createDate": "Mar 5, 2024"}},
                    **extra),
        make_record("AttachUserPolicy", time=at(minute, 30), **extra,
                    request={"userName": name, "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
    ]


def built(logs, demos=(), split=None, selection=None, keep_noise=False):
    demonstrations, _ = _demonstrations([str(log) for log in logs], [str(demo) for demo in demos],
                                        selection or Selection(all_principals=True), split, keep_noise)
    return [(demonstration.name, [(event.operation, event.call.params.get("UserName")) for event in demonstration.kept])
            for demonstration in demonstrations]


def test_the_log_arguments_then_each_demo_are_the_demonstrations_read_with_one_selection(tmp_path):
    first = write_log(tmp_path / "bob.json", onboarding("bob", 0))
    second = write_log(tmp_path / "carol.json", onboarding("carol", 5) + onboarding("mallet", 6, user="mallory"))
    third = write_log(tmp_path / "dave.json", onboarding("dave", 9))
    assert built([first], [second, third], selection=Selection(principal="alice")) == [
        (str(first), [("CreateUser", "bob"), ("AttachUserPolicy", "bob")]),
        (str(second), [("CreateUser", "carol"), ("AttachUserPolicy", "carol")]),
        (str(third), [("CreateUser", "dave"), ("AttachUserPolicy", "dave")]),
    ]
    # Without LOG arguments, the first --demo is the first demonstration.
    assert [name for name, _ in built([], [third, first])] == [str(third), str(first)]


def test_split_at_idle_gaps_names_each_part_and_keeps_reads_with_the_work_they_precede(tmp_path):
    log = write_log(tmp_path / "trail.json", [
        *onboarding("bob", 0),
        # A lone check, then the work it was for after another gap.
        make_record("GetUser", time=at(20), request={"userName": "carol"}, errorCode="NoSuchEntity"),
        *onboarding("carol", 40),
        *onboarding("dave", 43),
    ])
    demonstrations, _ = _demonstrations([str(log)], [], Selection(), "idle=15m", False)
    assert [(demonstration.name, [event.call.params["UserName"] for event in demonstration.kept])
            for demonstration in demonstrations] == [
        (f"{log} (1 of 2, from 10:00:00)", ["bob", "bob"]),
        (f"{log} (2 of 2, from 10:20:00)", ["carol", "carol", "dave", "dave"]),
    ]
    assert [event.operation for event in demonstrations[1].failed] == ["GetUser"]
    assert demonstrations[0].failed == []
    # A shorter idle time cuts more.
    assert [name for name, _ in built([log], split="idle=2m")] == [
        f"{log} (1 of 3, from 10:00:00)", f"{log} (2 of 3, from 10:20:00)", f"{log} (3 of 3, from 10:43:00)"]


def assumed(session: str, created: str | None, key: str) -> dict:
    identity = {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{session}", "accountId": ACCOUNT,
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/{session}", "accessKeyId": key,
                "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Admin",
                                                     "arn": f"arn:aws:iam::{ACCOUNT}:role/Admin"}}}
    if created:
        identity["sessionContext"]["attributes"] = {"creationDate": created, "mfaAuthenticated": "false"}
    return {"userIdentity": identity}


def test_split_by_session_tells_apart_role_sessions_by_their_creation_time_else_by_access_key(tmp_path):
    morning = assumed("alice", "2024-03-05T09:58:00Z", "ASIAEXAMPLE1")
    # The console signs one session's calls with several access keys.
    same_session = assumed("alice", "2024-03-05T09:58:00Z", "ASIAEXAMPLE3")
    # The same role session name, its credentials issued again.
    later = assumed("alice", "2024-03-05T10:03:00Z", "ASIAEXAMPLE2")
    log = write_log(tmp_path / "trail.json", [
        *onboarding("bob", 0, **morning), *onboarding("carol", 4, **later), *onboarding("dave", 5, **same_session),
    ])
    assert built([log], split="session") == [
        (f"{log} (1 of 2, from 10:00:00)", [("CreateUser", "bob"), ("AttachUserPolicy", "bob"),
                                            ("CreateUser", "dave"), ("AttachUserPolicy", "dave")]),
        (f"{log} (2 of 2, from 10:04:00)", [("CreateUser", "carol"), ("AttachUserPolicy", "carol")]),
    ]
    # Without the creation time, the access key tells the sessions apart.
    keys = write_log(tmp_path / "keys.json", [
        *onboarding("bob", 0, **assumed("alice", None, "ASIAEXAMPLE1")),
        *onboarding("carol", 1, **assumed("alice", None, "ASIAEXAMPLE2")),
        *onboarding("dave", 2, **assumed("alice", None, "ASIAEXAMPLE1")),
    ])
    assert [[user for _, user in calls[::2]] for _, calls in built([keys], split="session")] == [["bob", "dave"], ["carol"]]


def test_noise_is_judged_within_each_demonstration(tmp_path):
    records = [
        make_record("CreateGroup", time=at(0), request={"groupName": "ops"},
                    response={"group": {"groupName": "ops", "groupId": "AGPAOPS", "path": "/",
                                        "arn": f"arn:aws:iam::{ACCOUNT}:group/ops", "createDate": "Mar 5, 2024"}}),
        make_record("DeleteGroup", time=at(30), request={"groupName": "ops"}),
    ]
    log = write_log(tmp_path / "setup-and-teardown.json", records)
    # One demonstration: a group created and deleted unused is noise, and nothing is left.
    whole = run_cli("synth", str(log))
    assert whole.code == 1 and "no write call of" in whole.stderr
    # Two demonstrations (setting up, tearing down): each keeps its call.
    assert built([log], split="idle=15m") == [
        (f"{log} (1 of 2, from 10:00:00)", [("CreateGroup", None)]),
        (f"{log} (2 of 2, from 10:30:00)", [("DeleteGroup", None)]),
    ]


def test_one_demonstration_by_any_route_synthesizes_the_same_runbook(tmp_path):
    log = str(write_log(tmp_path / "bob.json", onboarding("bob", 0)))
    plain = run_cli("synth", "--format", "json", log)
    assert plain.code == 0, plain.stderr
    assert "demonstration" not in plain.stderr
    for route in (["--demo", log], ["--split", "idle=15m", log], ["--split", "session", log]):
        result = run_cli("synth", "--format", "json", *route)
        assert result.code == 0, result.stderr
        assert without_time(result.stdout) == without_time(plain.stdout)
    split = run_cli("synth", "--split", "idle=15m", log)
    assert f"--split idle=15m made 1 demonstration:\n  {log}: 2 write calls\n" in split.stderr


def without_time(runbook: str) -> dict:
    document = json.loads(runbook)
    del document["solution"]["seconds"]
    return document


@pytest.mark.parametrize("command", [["synth"], ["compare"], ["facts"]])
@pytest.mark.parametrize("bad, message", [
    (["--split", "foo"], "error: --split: 'foo' is not idle=DURATION (idle=15m, idle=90s) or session"),
    (["--split", "idle=soon"], "error: --split: 'soon' is not a duration such as 15m, 90s, 1h30m"),
    (["--split", "session=1"], "error: --split: 'session=1' is not idle=DURATION (idle=15m, idle=90s) or session"),
])
def test_a_bad_split_is_a_one_line_error(tmp_path, command, bad, message):
    log = str(write_log(tmp_path / "bob.json", onboarding("bob", 0)))
    result = run_cli(*command, *bad, log)
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [message]


@pytest.mark.parametrize("command", [["synth"], ["compare"], ["facts"], ["verify", "runbook.yaml"]])
def test_a_missing_demo_or_no_log_at_all_is_a_one_line_error(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    log = str(write_log(tmp_path / "bob.json", onboarding("bob", 0)))
    assert run_cli("synth", log, "-o", "runbook.yaml").code == 0
    missing = str(tmp_path / "no-such-demo.json")
    result = run_cli(*command, log, "--demo", missing)
    assert (result.code, result.stderr.strip().splitlines()) == (2, [f"error: {missing}: no such file or directory"])
    nothing = run_cli(*command)
    assert (nothing.code, nothing.stderr.strip().splitlines()) == (2, ["error: no log to read: give LOG arguments, or --demo LOG"])


def test_task_goes_with_the_log_arguments_alone(tmp_path):
    log = str(write_log(tmp_path / "bob.json", onboarding("bob", 0)))
    result = run_cli("synth", "--task", "abcd1234", "--split", "session", log)
    assert result.code == 2
    assert result.stderr.strip() == "error: --task picks one session of the LOG arguments: it goes with neither --demo nor --split"


def test_split_texts():
    assert parse_split("idle=1h30m").seconds == 5400 and parse_split("session").kind == "session"
    with pytest.raises(ValueError):
        parse_split("idle")


def test_several_demonstrations_from_two_logs_or_one_log_split_are_the_same_to_the_solver(tmp_path):
    """A user ensured twice (carol did not exist, dave did): as two --demo logs, or one log cut at
    the idle time between them, the facts and the runbooks compared are the same, with a branch."""
    from demo_logs import user_ensured

    carol = str(write_log(tmp_path / "carol.json", user_ensured("carol", "dev", exists=False)))
    dave = str(write_log(tmp_path / "dave.json", user_ensured("dave", "ops", exists=True, start=10)))
    both = str(write_log(tmp_path / "both.json", user_ensured("carol", "dev", exists=False)
                         + user_ensured("dave", "ops", exists=True, start=1000)))
    facts = run_cli("facts", "--demo", carol, "--demo", dave)
    assert facts.code == 0, facts.stderr
    assert facts.stdout.startswith("% pysynth facts: 2 demonstrations, 3 calls, ")
    assert facts.stderr == f"2 demonstrations:\n  {carol}: 2 write calls\n  {dave}: 1 write call\n"
    split = run_cli("facts", "--split", "idle=5m", both)
    assert split.stdout.startswith("% pysynth facts: 2 demonstrations, 3 calls, ")
    assert split.stderr == (f"--split idle=5m made 2 demonstrations:\n  {both} (1 of 2, from 10:00:00): 2 write calls\n"
                            f"  {both} (2 of 2, from 10:16:40): 1 write call\n")
    compared = run_cli("compare", "-n", "1", "--demo", carol, "--demo", dave)
    assert compared.code == 0, compared.stderr
    assert re.search(r"cost: branches +│ 1 ", compared.stdout)
    assert run_cli("compare", "-n", "1", "--split", "idle=5m", both).stdout == compared.stdout
    # One log, no split: one demonstration, so no branch (carol's calls and dave's follow in a row).
    assert re.search(r"cost: branches +│ 0 ", run_cli("compare", "-n", "1", both).stdout)


def test_a_runbook_synthesized_from_a_split_log_is_certified_against_the_same_split(tmp_path, monkeypatch):
    from demo_logs import user_ensured

    monkeypatch.chdir(tmp_path)
    write_log(tmp_path / "both.json", user_ensured("carol", "dev", exists=False)
              + user_ensured("dave", "ops", exists=True, start=1000))
    synthesized = run_cli("synth", "--split", "idle=5m", "both.json", "-o", "runbook.yaml")
    assert synthesized.code == 0, synthesized.stderr
    # carol did not exist and dave did: CreateUser runs only where GetUser fails.
    assert 'onFailure: "step:CreateUser"' in (tmp_path / "runbook.yaml").read_text()
    certified = run_cli("verify", "runbook.yaml", "--split", "idle=5m", "both.json")
    assert certified.code == 0, certified.stderr
    assert "of 2 demonstrations" in certified.stderr
    # Read as one demonstration, the log runs the task twice in a row: the runbook does it once.
    assert run_cli("verify", "runbook.yaml", "both.json").code == 5
