"""`pysynth events` as a user runs it: every record accounted for, data on stdout, diagnostics on
stderr, one-line errors and never a traceback."""

from __future__ import annotations

import json

import pytest

from conftest import ACCOUNT, make_record, run_cli, run_process, write_log

JSON_KEYS = {"record", "event_id", "time", "principal", "region", "event_source", "event_name", "service",
             "operation", "read_only", "params", "response", "hidden", "status", "reason", "notes"}


def session(tmp_path):
    return write_log(tmp_path / "session.json", [
        make_record("CreateUser", request={"userName": "bob"},
                    response={"user": {"userName": "bob", "userId": "AIDAEXAMPLEBOB", "path": "/",
                                       "arn": f"arn:aws:iam::{ACCOUNT}:user/bob", "createDate": "Mar 5, 2024 10:00:00 AM"}}),
        make_record("GetUser", request={"userName": "bob"}, time="2024-03-05T10:00:01Z"),
        make_record("CreateAccessKey", request={"userName": "bob"}, time="2024-03-05T10:00:02Z", errorCode="LimitExceeded"),
    ])


def test_json_lines_has_one_documented_object_per_record(tmp_path):
    result = run_cli("events", "--json", str(session(tmp_path)))
    assert result.code == 0
    lines = result.json_lines()
    assert [set(line) for line in lines] == [JSON_KEYS] * 3
    create = lines[0]
    assert create["record"] == {"file": str(tmp_path / "session.json"), "index": 0}
    assert (create["service"], create["operation"], create["status"], create["reason"]) == ("iam", "CreateUser", "kept", None)
    assert create["params"] == {"UserName": "bob"}
    assert create["response"]["User"]["UserName"] == "bob"
    assert [(line["status"], line["reason"]) for line in lines[1:]] == [
        ("dropped", "read-only call"), ("dropped", "failed call (LimitExceeded)")]


def test_table_on_stdout_and_summary_on_stderr(tmp_path):
    result = run_cli("events", str(session(tmp_path)))
    assert "CreateUser" in result.stdout and "UserName=bob" in result.stdout
    assert "summary" in result.stderr and "summary" not in result.stdout
    assert "dropped: failed call" in result.stderr and "dropped: read-only call" in result.stderr


def test_dropped_lists_only_dropped_records_with_reasons(tmp_path):
    lines = run_cli("events", "--json", "--dropped", str(session(tmp_path))).json_lines()
    assert [line["event_name"] for line in lines] == ["GetUser", "CreateAccessKey"]
    assert all(line["reason"] for line in lines)


def test_ambiguous_principals_stop_with_a_table_and_how_to_choose(tmp_path):
    log = write_log(tmp_path / "two.json", [
        make_record("CreateUser", request={"userName": "a"}, user="alice"),
        make_record("CreateGroup", request={"groupName": "g"}, user="mallory"),
    ])
    result = run_cli("events", str(log))
    assert result.code == 2
    assert result.stdout == ""
    assert "principals with write calls" in result.stderr
    assert "--principal" in result.stderr and "--all-principals" in result.stderr
    assert run_cli("events", "--principal", "alice", "--json", str(log)).code == 0


def test_hostile_values_are_shown_as_text_and_round_trip_in_json(tmp_path):
    hostile = "x'\"$(rm -rf /)`id`\n[bold red]{{ ssm }}\x1b[31m ünï 💥"
    log = write_log(tmp_path / "hostile.json", [make_record("CreateUser", request={"userName": hostile})])
    assert run_cli("events", str(log)).code == 0
    [line] = run_cli("events", "--json", str(log)).json_lines()
    assert line["params"] == {"UserName": hostile}


def test_stdin_and_bad_files_in_a_real_process(tmp_path):
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip at all")
    stdin = json.dumps({"Records": [make_record("CreateUser", request={"userName": "bob"})]}).encode()
    result = run_process("events", "--json", "-", str(bad), input=stdin)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"warning: {bad}: named .gz but is not gzip-compressed" in result.stderr
    assert [line["operation"] for line in result.json_lines()] == ["CreateUser"]


@pytest.mark.parametrize("content", [b"", b"{\"Records\": [", b"\x00\x01\x02binary", b"\x1f\x8bnope"])
def test_nothing_usable_exits_non_zero_with_one_line_per_problem(tmp_path, content):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    result = run_process("events", str(path))
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert f"warning: {path}:" in result.stderr
    assert "error: no records could be read" in result.stderr


def test_record_level_damage_is_counted_and_listed(tmp_path):
    no_name = make_record("CreateUser")
    del no_name["eventName"]
    log = write_log(tmp_path / "damaged.json", [no_name, "{broken", make_record("CreateGroup", request={"groupName": "g"})])
    result = run_process("events", "--json", str(log))
    assert result.code == 0
    reasons = {line["record"]["index"]: line["reason"] for line in result.json_lines()}
    assert reasons[0] == "malformed record: no eventName"
    assert reasons[1].startswith("unreadable record: malformed embedded JSON")
    assert reasons[2] is None
    assert f"warning: {log} record 0: malformed record: no eventName" in result.stderr


def test_absurdly_long_values_pass_through(tmp_path):
    long_name = "n" * 200_000
    log = write_log(tmp_path / "long.json", [make_record("CreateGroup", request={"groupName": long_name})])
    [line] = run_cli("events", "--json", str(log)).json_lines()
    assert line["params"]["GroupName"] == long_name
    table = run_cli("events", str(log))
    assert table.code == 0 and len(table.stdout) < 5_000


def test_bad_time_option_is_a_usage_error(tmp_path):
    result = run_cli("events", "--since", "yesterday", str(session(tmp_path)))
    assert result.code == 2 and "ISO 8601" in result.stderr


def test_a_long_read_shows_progress_on_stderr_and_nothing_on_stdout(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from pysynth import cli

    for number in range(30):
        write_log(tmp_path / f"logs/{number:02d}.json", [make_record("CreateUser", request={"userName": f"u{number}"})])
    screen = io.StringIO()
    monkeypatch.setattr(cli, "stderr", Console(file=screen, force_terminal=True, width=160))
    monkeypatch.setattr(cli._LazyProgress, "DELAY_SECONDS", 0)
    result = run_cli("events", "--json", "--all-principals", str(tmp_path / "logs"))
    assert result.code == 0
    assert len(result.json_lines()) == 30
    assert "files" in screen.getvalue() and "records/s" in screen.getvalue()
