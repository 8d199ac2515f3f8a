"""`pysynth tasks`: a trail cut into sessions at idle gaps, sessions of the same shape grouped into
one recurring task, and `synth --task ID` synthesizing one occurrence."""

from __future__ import annotations

import json

import pytest

from conftest import ACCOUNT, make_record, run_cli, write_log
from pysynth.tasks import collapse_loops, parse_gap

RAW_TRAIL = "invictus_aws_dataset_raw_cloudtrail.tar.gz"


def onboarding(users: list[str], hour: int, user: str = "alice") -> list[dict]:
    """``user`` creates each of ``users`` and adds them to a group, a few seconds apart."""
    records = []
    for number, name in enumerate(users):
        moment = f"2024-03-05T{hour:02d}:00:{number * 4:02d}Z"
        records.append(make_record("CreateUser", request={"userName": name}, time=moment, user=user,
                                   response={"user": {"userName": name, "userId": f"AIDA{name.upper()}", "path": "/",
                                                      "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
                                                      "createDate": "Mar 5, 2024 10:00:00 AM"}}))
        records.append(make_record("AddUserToGroup", request={"userName": name, "groupName": "ops"},
                                   time=moment.replace(f"{number * 4:02d}Z", f"{number * 4 + 1:02d}Z"), user=user))
    return records


@pytest.fixture
def trail(tmp_path):
    records = (
        onboarding(["ann", "ben", "cat"], hour=9)
        + [make_record("CreateGroup", request={"groupName": "audit"}, time="2024-03-05T09:40:00Z")]
        + onboarding(["dan", "eve", "fay", "gus", "hal"], hour=11)
        + onboarding(["ivy", "jon"], hour=11, user="mallory")
    )
    return write_log(tmp_path / "trail.json", records)


def tasks_of(*args: str) -> list[dict]:
    result = run_cli("tasks", "--json", *args)
    assert result.code == 0, result.stderr
    return result.json_lines()


def test_sessions_are_cut_at_idle_gaps_and_recurring_shapes_grouped(trail):
    found = tasks_of(str(trail))
    by_shape = {tuple(task["shape"]): task for task in found}
    onboard = by_shape[("(iam:CreateUser iam:AddUserToGroup)+",)]
    # Three users at nine, five at eleven (loops collapsed), and mallory's two at eleven: one task done 3 times.
    assert onboard["occurrences"] == 3
    assert [(s["principal"].rsplit("/", 1)[1], s["start"], s["writes"]) for s in onboard["sessions"]] == [
        ("alice", "2024-03-05T09:00:00Z", 6), ("alice", "2024-03-05T11:00:00Z", 10), ("mallory", "2024-03-05T11:00:00Z", 4)]
    assert [session["id"] for session in onboard["sessions"]] == [f"{onboard['id']}.{n}" for n in (1, 2, 3)]
    # The group created at 9:40 is 40 minutes after the last call before it: a session of its own.
    assert by_shape[("iam:CreateGroup",)]["sessions"][0]["writes"] == 1
    assert onboard["command"] == f"pysynth synth {trail} --task {onboard['id']}"


def test_a_longer_gap_joins_sessions(trail):
    shapes = [tuple(task["shape"]) for task in tasks_of("--gap", "45m", str(trail))]
    assert ("(iam:CreateUser iam:AddUserToGroup)+", "iam:CreateGroup") in shapes


def test_task_ids_are_stable_across_runs_and_selections(trail):
    first = {task["id"] for task in tasks_of(str(trail))}
    assert first == {task["id"] for task in tasks_of(str(trail))}
    assert {task["id"] for task in tasks_of("--principal", "mallory", str(trail))} <= first


def test_synth_task_synthesizes_the_first_occurrence(trail):
    [onboard] = [task for task in tasks_of(str(trail)) if task["occurrences"] == 3]
    result = run_cli("synth", "--format", "json", "--task", onboard["id"], str(trail))
    assert result.code == 0, result.stderr
    model = json.loads(result.stdout)
    # The occurrence repeats CreateUser and AddUserToGroup for each user: one loop over their names.
    (loop,) = model["steps"]
    names = next(item["default"] for item in model["inputs"] if item["name"] == loop["loop"]["over"]["$input"])
    assert len(names) == 3  # ann, ben, cat: the nine o'clock occurrence
    third = json.loads(run_cli("synth", "--format", "json", "--task", f"{onboard['id']}.3", str(trail)).stdout)
    assert next(item["default"] for item in third["inputs"] if item["type"] == "StringList") != names
    # mallory's ivy and jon, not alice's five at the same time: one loop of two iterations
    assert [step["loop"]["iterations"] for step in third["steps"]] == [2]
    assert third["steps"][0]["records"][0]["time"] == "2024-03-05T11:00:00Z"


@pytest.mark.parametrize("args, message", [
    (["--gap", "soon"], "is not a duration"),
    (["--gap", "0m"], "not a positive duration"),
])
def test_bad_gap_is_a_usage_error(trail, args, message):
    result = run_cli("tasks", *args, str(trail))
    assert result.code == 2 and message in result.stderr


def test_an_unknown_task_is_one_line_and_exit_2(trail):
    result = run_cli("synth", "--task", "deadbeef", str(trail))
    assert result.code == 2
    assert "error: no task deadbeef in these logs" in result.stderr


def test_loops_are_collapsed_values_aside():
    assert collapse_loops(["a", "b", "b", "b", "c"]) == ("a", "(b)+", "c")
    assert collapse_loops(["a", "b", "a", "b", "c"]) == ("(a b)+", "c")
    assert collapse_loops(["x", "a", "b", "a", "b", "a", "b"]) == collapse_loops(["x", "a", "b", "a", "b"])
    assert collapse_loops(["a", "b", "c"]) == ("a", "b", "c")
    assert parse_gap("1h30m") == 5400 and parse_gap("90s") == 90


def test_the_shared_trail_in_sessions_tasks_and_a_recurring_one(shared):
    trail = str(shared / RAW_TRAIL)
    default = tasks_of(trail)
    # bert-jan's long-term key does the whole scenario without a 15 minute pause; two console
    # sessions (temporary keys) each make one call.
    assert [(task["sessions"][0]["access_key_id"][:4], task["sessions"][0]["writes"]) for task in default] == [
        ("AKIA", 413), ("ASIA", 1), ("ASIA", 1)]
    short = tasks_of("--gap", "30s", trail)
    sessions = [session for task in short for session in task["sessions"]]
    assert sum(session["writes"] for session in sessions) == 415
    assert len(sessions) > len(default)
    for session in sessions:
        assert session["start"] <= session["end"]
    by_key: dict = {}
    for session in sorted(sessions, key=lambda session: session["start"]):
        by_key.setdefault(session["access_key_id"], []).append(session)
    for ordered in by_key.values():  # sessions of one key are more than the gap apart
        for before, after in zip(ordered, ordered[1:]):
            assert _seconds(after["start"]) - _seconds(before["end"]) > 30
    [recurring] = [task for task in short if task["occurrences"] > 1]
    assert recurring["shape"] == ["ec2:CreateRoute"] and recurring["occurrences"] == 2
    result = run_cli("synth", "--format", "json", "--gap", "30s", "--task", f"{recurring['id']}.2", trail)
    assert result.code == 0, result.stderr
    [step] = json.loads(result.stdout)["steps"]
    assert step["api"] == "CreateRoute" and step["records"][0]["time"] == recurring["sessions"][1]["start"]


def _seconds(moment: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
