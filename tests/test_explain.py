"""``pysynth explain``: why each step, input and reference is what it is, with the alternatives it beat."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import make_record, retried_attachment, run_cli, write_log

ROOT = Path(__file__).resolve().parents[1]
ONBOARDING = str(ROOT / "examples" / "iam-onboarding.json")


def explain(*arguments: str) -> list[str]:
    result = run_cli("explain", *arguments)
    assert result.code == 0, result.stderr
    return result.stdout.splitlines()


def section(lines: list[str], title: str) -> list[str]:
    start = lines.index(title)
    end = next((number for number in range(start + 1, len(lines)) if lines[number] == ""), len(lines))
    return lines[start:end]


def test_every_step_names_its_record_and_every_value_its_reason():
    lines = explain("--principal", "alice", ONBOARDING)
    assert lines[0].startswith("The runbook is proven optimal under the objectives, highest priority first: ")
    assert "inputs 3, steps 5, loops 0, input_references 0, later_sources 0" in lines[0]
    create_user = section(lines, "Step CreateUser: iam CreateUser")
    assert create_user[1].startswith(f"  It reproduces {ONBOARDING} record 2 (00000000-0000-0000-0000-000000002003")
    assert create_user[2:4] == [
        "  UserName: input UserName",
        ("    It names or identifies something the user chose or that existed before the session, so it is an "
        "input with the logged value as default, never a literal (a rule)."),
    ]
    login = section(lines, "Step CreateLoginProfile: iam CreateLoginProfile")
    assert "  Password: secret input Password" in login
    assert "  PasswordResetRequired: the literal true" in login
    attach = section(lines, "Step AttachUserPolicy: iam AttachUserPolicy")
    assert "  PolicyArn: the literal arn:aws:iam::aws:policy/ReadOnlyAccess" in attach
    assert any("constant" in line for line in attach)
    # compare's alternatives, and the objective each loses on.
    group = section(lines, "Step AddUserToGroup: iam AddUserToGroup")
    alternative = re.compile(r"    Runbook #\d takes the output LoginProfile.UserName of step CreateLoginProfile "
                             r"instead, and loses on later_sources \(1 against 0\)\.")
    assert any(alternative.fullmatch(line) for line in group), group


def test_one_input_or_one_step():
    lines = explain("--principal", "alice", "--input", "Password", ONBOARDING)
    assert lines[2:] == [
        "Input Password (String, secret)",
        "  Used by CreateLoginProfile.Password.",
        ("  CreateLoginProfile.Password: CloudTrail hides this value, so it is a secret input: required, without a "
        "default, never written."),
    ]
    lines = explain("--principal", "alice", "--step", "CreateAccessKey", ONBOARDING)
    assert [line for line in lines if line.startswith(("Step", "Input"))] == ["Step CreateAccessKey: iam CreateAccessKey"]


def test_a_merged_retry_and_a_created_value(tmp_path):
    records = retried_attachment() + [
        make_record("CreateAccessKey", request={"userName": "bob"}, time="2024-03-05T10:00:03Z",
                    response={"accessKey": {"userName": "bob", "accessKeyId": "AKIAEXAMPLEKEY0001", "status": "Active",
                                            "createDate": "Mar 5, 2024 10:00:03 AM"}}),
        make_record("UpdateAccessKey", request={"userName": "bob", "accessKeyId": "AKIAEXAMPLEKEY0001", "status": "Inactive"},
                    time="2024-03-05T10:00:04Z"),
    ]
    log = write_log(tmp_path / "retry.json", records)
    attach = section(explain(str(log)), "Step AttachUserPolicy: iam AttachUserPolicy")
    assert any(line.startswith(f"  It also stands for {log} record 2") and "a retry, merged (objective steps)" in line
               for line in attach)
    update = section(explain(str(log)), "Step UpdateAccessKey: iam UpdateAccessKey")
    assert "  AccessKeyId: output AccessKey.AccessKeyId of step CreateAccessKey" in update
    assert any("the call created it, so it is always taken from that output" in line for line in update)


def test_bad_input():
    unknown = run_cli("explain", "--principal", "alice", "--step", "DeleteUser", ONBOARDING)
    assert unknown.code == 2
    assert unknown.stderr.strip() == ("error: the runbook has no step DeleteUser; its steps are CreateUser, "
                                      "AttachUserPolicy, CreateLoginProfile, AddUserToGroup, CreateAccessKey")
    both = run_cli("explain", "--principal", "alice", "--step", "CreateUser", "--input", "UserName", ONBOARDING)
    assert both.code == 2 and "give --step or --input, not both" in both.stderr
    no_input = run_cli("explain", "--principal", "alice", "--input", "Nope", ONBOARDING)
    assert no_input.code == 2 and "its inputs are UserName, Password, GroupName" in no_input.stderr


def test_a_wait_and_a_retry_say_why(shared):
    log = str(shared / "invictus_terraform_vpc_iam_ec2_deploy_session.json")
    wait = explain("--step", "WaitForNatGatewayAvailable", log)[3]
    assert wait.endswith("the log polled this read, so it becomes a wait on botocore's NatGatewayAvailable waiter "
                         "until $.NatGateways[0].State is available, up to 40 attempts (objective unwaited_polls).")
    retry = explain("--step", "RunInstances", log)[3]
    assert retry.endswith("The log shows it failed (InvalidParameterValue) before it succeeded, so it is retried, "
                          "up to 4 attempts (objective unhandled_failures).")
