"""Branches in every rendering (issue 10): a call's expected error (GetUser's NoSuchEntity decides
whether CreateUser runs), a value read from a response (StopInstances only on a running instance),
an optional input (PutBucketTagging only when Owner is given). Each runbook keeps its form through
JSON and the SSM read-back, its renderings have the structure SSM, Python and bash need, and the
Python and bash scripts and the SSM document (through ``pysynth run``) run on the emulator, taking
each way of the branch and leaving the state the way should leave."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from conftest import run_cli
from demo_logs import (
    demonstrations,
    instance_stopped_and_tagged,
    user_created_or_existing,
    user_ensured,
    user_onboarded,
)
from branch_runbooks import (
    HOSTILE_TEXT,
    bucket_for_mode,
    bucket_tagged_once,
    bucket_with_owner,
    nested_branches,
    stop_if_running,
    user_in_group,
    user_removed,
)
from moto_server import MOTO_ENVIRONMENT, moto_server  # noqa: F401 - the module's fixture
from pysynth.cloudformation import document_resource
from pysynth.model import OutputRef, runbook_from_json, runbook_to_json
from pysynth.render import RenderError, render, render_checked
from pysynth.render.names import environment_name, option_name
from pysynth.explain import explain
from pysynth.graph import graph
from pysynth.iam import permissions
from pysynth.lint import limit_problems
from pysynth.report import comparison_table
from pysynth.runner.branches import choice_holds
from pysynth.runner.values import StepError
from pysynth.ssm import DocumentError, parse_document
from pysynth.synth import synthesize_demonstrations
from test_lint import cfn_lint
from test_loop_scenarios import aws, reset  # noqa: F401 - aws is a fixture

RUNBOOKS = {
    "user_in_group": user_in_group, "user_in_group_negated": lambda: user_in_group(negate=True),
    "stop_if_running": stop_if_running, "bucket_with_owner": bucket_with_owner, "nested_branches": nested_branches,
    "user_removed": user_removed, "bucket_tagged_once": bucket_tagged_once,
}
RENDERINGS = ("python", "bash", "ssm")
SUFFIXES = {"python": "py", "bash": "sh", "ssm": "yaml"}


# -- the model's forms -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RUNBOOKS)
def test_a_branch_keeps_its_form_through_json(name):
    runbook = RUNBOOKS[name]()
    assert runbook_from_json(json.loads(render(runbook, "json"))) == runbook


@pytest.mark.parametrize("name", RUNBOOKS)
def test_the_ssm_document_reads_back_as_the_runbook_and_passes_cfn_lint(name, tmp_path):
    runbook = RUNBOOKS[name]()
    text = render_checked(runbook, "ssm")
    read = parse_document(text, "runbook.yaml")
    # Steps with their descriptions, records, tests, arms and expected errors (GetUser's codes too).
    assert runbook_to_json(read)["steps"] == runbook_to_json(runbook)["steps"]
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Runbook": document_resource(text)}}
    assert cfn_lint(yaml.safe_dump(template, sort_keys=False), tmp_path) == []


def _ssm_steps(runbook) -> dict[str, dict]:
    document = yaml.safe_load(render_checked(runbook, "ssm"))
    return {step["name"]: step for step in document["mainSteps"]}


def test_ssm_goes_on_from_a_failed_call_at_its_failure_arm():
    steps = _ssm_steps(user_in_group())
    assert list(steps) == ["GetUser", "CreateUser", "AddUserToGroup"]
    get_user = steps["GetUser"]
    assert (get_user["onFailure"], get_user["isCritical"], get_user["nextStep"]) == (
        "step:CreateUser", False, "AddUserToGroup")
    assert "Branch IfUserMissing tests whether this call fails with NoSuchEntity" in get_user["description"]
    assert steps["CreateUser"]["nextStep"] == "AddUserToGroup"
    assert not {"onFailure", "nextStep", "isEnd"} & set(steps["AddUserToGroup"])


def test_ssm_tests_a_value_with_a_choice_and_a_default():
    steps = _ssm_steps(stop_if_running())
    assert list(steps) == ["DescribeInstances", "IfRunning", "StopInstances", "CreateTags"]
    assert steps["IfRunning"]["action"] == "aws:branch"
    assert steps["IfRunning"]["inputs"] == {
        "Choices": [{"NextStep": "StopInstances", "Variable": "{{ DescribeInstances.State }}",
                     "StringEquals": "running"}],
        "Default": "CreateTags",
    }
    # Nothing follows the branch: each arm ends the runbook.
    assert steps["StopInstances"]["isEnd"] is True and steps["CreateTags"]["isEnd"] is True


def test_ssm_tests_an_optional_input_and_jumps_to_its_end_step():
    document = yaml.safe_load(render_checked(bucket_with_owner(), "ssm"))
    steps = {step["name"]: step for step in document["mainSteps"]}
    assert document["parameters"]["Owner"]["default"] == ""
    assert steps["IfOwnerGiven"]["inputs"] == {
        "Choices": [{"NextStep": "PutBucketTagging", "Not": [{"Variable": "{{ Owner }}", "StringEquals": ""}]}],
        "Default": "RunbookEnd",
    }
    assert steps["PutBucketTagging"]["isEnd"] is True
    assert document["mainSteps"][-1] == {
        "name": "RunbookEnd", "action": "aws:sleep", "description": document["mainSteps"][-1]["description"],
        "inputs": {"Duration": "PT0S"},
    }


def test_the_scripts_catch_only_the_expected_error_and_test_it():
    python = render_checked(user_in_group(), "python")
    assert "    except botocore.exceptions.ClientError as error:\n" in python
    assert "if error.response.get(\"Error\", {}).get(\"Code\") not in ('NoSuchEntity',):\n            raise" in python
    assert "    if error_get_user in ('NoSuchEntity',):\n        # CreateUser" in python
    bash = render_checked(user_in_group(), "bash")
    assert "$(aws_call_expecting 'NoSuchEntity' aws_call iam get-user " in bash
    assert "if [[ -n $error_get_user ]]; then\n  # CreateUser" in bash


def test_the_scripts_write_if_and_else_for_two_arms():
    python = render_checked(stop_if_running(), "python")
    assert "    if output_describe_instances_state == 'running':\n" in python
    assert python.index("ec2_client.stop_instances") < python.index("    else:\n") < python.index("ec2_client.create_tags")
    bash = render_checked(stop_if_running(), "bash")
    assert "if [[ $output_describe_instances_state == 'running' ]]; then\n" in bash
    assert bash.index("stop-instances") < bash.index("\nelse\n") < bash.index("create-tags") < bash.index("\nfi\n")


def test_a_branch_with_only_an_otherwise_arm_tests_the_other_way():
    python = render_checked(user_in_group(negate=True), "python")
    # CreateUser runs when GetUser did not succeed: the if tests the failure.
    assert "    if error_get_user in ('NoSuchEntity',):\n        # CreateUser" in python
    bash = render_checked(user_in_group(negate=True), "bash")
    assert "if [[ -n $error_get_user ]]; then\n  # CreateUser" in bash


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_a_branch_refuses_what_it_cannot_test(rendering):
    runbook = user_in_group()
    runbook.steps[0].expected_errors = ["AccessDenied"]  # the branch tests NoSuchEntity
    with pytest.raises(RenderError, match="expects the errors"):
        render(runbook, rendering)
    runbook = bucket_with_owner()
    runbook.inputs[1].default = None  # a required input is always set
    with pytest.raises(RenderError, match="a set test is of an optional String input"):
        render(runbook, rendering)
    runbook = stop_if_running()
    runbook.steps[1].branch.test.value = OutputRef("DescribeInstances", "Missing")
    with pytest.raises(RenderError, match="no input or output of an earlier step"):
        render(runbook, rendering)
    # What a call answers is unset when it failed as expected: after the branch, no step reads it.
    runbook = user_in_group()
    runbook.steps[2].request["UserName"] = OutputRef("GetUser", "UserId")
    with pytest.raises(RenderError, match="output GetUser.UserId is not defined before step AddUserToGroup"):
        render(runbook, rendering)
    runbook.steps[1:2] = []  # with no branch on the error either
    with pytest.raises(RenderError, match="output GetUser.UserId is not defined before step AddUserToGroup"):
        render(runbook, rendering)


# -- running on the emulator -----------------------------------------------------------------------


def run(runbook, rendering: str, inputs: dict[str, str], url: str, tmp_path: Path,
        secrets: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The rendering run for real against the emulator with ``inputs`` (and secret inputs, which the
    scripts read from the environment): the script, or the SSM document through ``pysynth run``."""
    path = tmp_path / f"runbook.{SUFFIXES[rendering]}"
    path.write_text(render_checked(runbook, rendering), encoding="utf-8")
    secrets = secrets or {}
    environment = {environment_name(name): value for name, value in secrets.items()}
    if rendering == "ssm":
        inputs, environment = inputs | secrets, {}
        arguments = [arg for name, value in inputs.items() for arg in ("--param", f"{name}={value}")]
        command = [sys.executable, "-m", "pysynth", "run", str(path), *arguments]
    else:
        arguments = [arg for name, value in inputs.items() for arg in (option_name(name), value)]
        command = [sys.executable if rendering == "python" else "bash", str(path), *arguments]
    # The AWS CLI beside this Python, for the bash script.
    path_variable = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    # Run where the test looks for files a hostile value might create.
    return subprocess.run([*command, "--endpoint-url", url], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, cwd=tmp_path,
                          env={**os.environ, **MOTO_ENVIRONMENT, **environment, "PATH": path_variable})


@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("negate", [False, True], ids=["steps", "otherwise"])
@pytest.mark.parametrize("user_exists", [False, True], ids=["absent", "present"])
def test_a_missing_user_is_created_and_an_existing_one_kept(rendering, negate, user_exists, moto_server, aws,
                                                             tmp_path):  # noqa: F811
    reset(moto_server)
    iam = aws("iam")
    iam.create_group(GroupName="devs")
    existing = iam.create_user(UserName="alice", Tags=[{"Key": "kept", "Value": "yes"}])["User"] if user_exists else None
    done = run(user_in_group(negate=negate), rendering, {"UserName": "alice", "GroupName": "devs"}, moto_server,
               tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # Creating a user who exists fails (EntityAlreadyExists): the run took the success way then.
    user = iam.get_user(UserName="alice")["User"]
    assert user["UserId"] == (existing["UserId"] if existing else user["UserId"])
    assert [group["GroupName"] for group in iam.list_groups_for_user(UserName="alice")["Groups"]] == ["devs"]
    assert (iam.list_user_tags(UserName="alice")["Tags"] != []) == user_exists
    if rendering != "python":
        # The expected error is said as an outcome, not as a failure or a warning.
        assert ("failed with NoSuchEntity, which the runbook expects" in done.stderr) != user_exists
        assert "warning" not in done.stderr
    if rendering != "ssm":
        outputs = json.loads(done.stdout)
        # A failed call's outputs are unset.
        assert outputs["GetUser.UserId"] == (existing["UserId"] if existing else None)


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_an_error_the_runbook_does_not_expect_still_stops_it(rendering, moto_server, aws, tmp_path):  # noqa: F811
    reset(moto_server)
    aws("iam").create_group(GroupName="devs")
    runbook = user_in_group()
    runbook.steps[0].expected_errors = runbook.steps[1].branch.test.codes = ["AccessDenied"]
    done = run(runbook, rendering, {"UserName": "alice", "GroupName": "devs"}, moto_server, tmp_path)
    assert done.returncode != 0
    assert "NoSuchEntity" in done.stderr
    assert aws("iam").list_users()["Users"] == []


@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_only_a_running_instance_is_stopped(rendering, running, moto_server, aws, tmp_path):  # noqa: F811
    reset(moto_server)
    ec2 = aws("ec2")
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    if not running:
        ec2.stop_instances(InstanceIds=[instance])
    done = run(stop_if_running(), rendering, {"InstanceId": instance}, moto_server, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    found = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert found["State"]["Name"] == "stopped"
    tags = {tag["Key"]: tag["Value"] for tag in found.get("Tags", [])}
    # The otherwise arm tags what it found not running, with its hostile text intact.
    assert tags == ({} if running else {"checked": "it's \"not\" running; $(touch pwned)"})
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("owner", ["ops 'team' $(x)", None], ids=["given", "not given"])
def test_a_bucket_is_tagged_only_when_its_owner_is_given(rendering, owner, moto_server, aws, tmp_path):  # noqa: F811
    reset(moto_server)
    inputs = {"Bucket": "reports"} | ({"Owner": owner} if owner is not None else {})
    done = run(bucket_with_owner(), rendering, inputs, moto_server, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    s3 = aws("s3")
    assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["reports"]
    try:
        tags = s3.get_bucket_tagging(Bucket="reports")["TagSet"]
    except s3.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchTagSet"
        tags = []
    assert tags == ([{"Key": "owner", "Value": owner}] if owner is not None else [])


@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("user_exists", [False, True], ids=["absent", "present"])
def test_nested_branches_take_each_way(rendering, user_exists, moto_server, aws, tmp_path):  # noqa: F811
    reset(moto_server)
    iam = aws("iam")
    iam.create_group(GroupName="devs")
    if user_exists:
        iam.create_user(UserName="alice")
    done = run(nested_branches(), rendering, {"UserName": "alice", "GroupName": "devs", "Owner": "ops"}, moto_server,
               tmp_path, secrets={"Password": "Pa55-word!"})
    assert done.returncode == 0, done.stdout + done.stderr
    tags = iam.list_user_tags(UserName="alice")["Tags"]
    # A new user is tagged (the owner is given) and has no login profile; an existing one gets one.
    assert tags == ([] if user_exists else [{"Key": "owner", "Value": "ops"}])
    try:
        iam.get_login_profile(UserName="alice")
        has_login_profile = True
    except iam.exceptions.NoSuchEntityException:
        has_login_profile = False
    assert has_login_profile == user_exists
    assert [group["GroupName"] for group in iam.list_groups_for_user(UserName="alice")["Groups"]] == ["devs"]
    assert "Pa55-word!" not in done.stdout + done.stderr


@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("mode", [HOSTILE_TEXT, HOSTILE_TEXT.strip(), "it's"], ids=["equal", "stripped", "prefix"])
def test_a_hostile_text_is_compared_as_it_is(rendering, mode, moto_server, aws, tmp_path):  # noqa: F811
    reset(moto_server)
    done = run(bucket_for_mode(), rendering, {"Mode": mode, "Bucket": "made"}, moto_server, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    made = [bucket["Name"] for bucket in aws("s3").list_buckets()["Buckets"]]
    # Only the very text (not a pattern it matches, not the text trimmed) takes the way.
    assert made == (["made"] if mode == HOSTILE_TEXT else [])
    assert not (tmp_path / "pwned").exists()



@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("has_login_profile", [False, True], ids=["no profile", "profile"])
def test_an_expected_error_no_branch_tests_lets_the_runbook_go_on(rendering, has_login_profile, moto_server, aws,
                                                                   tmp_path):  # noqa: F811
    reset(moto_server)
    iam = aws("iam")
    iam.create_user(UserName="bob")
    if has_login_profile:
        iam.create_login_profile(UserName="bob", Password="Old-pa55word!")
    done = run(user_removed(), rendering, {"UserName": "bob", "Confirm": "yes"}, moto_server, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="bob")
    assert iam.list_user_tags(UserName="bob")["Tags"] == []  # the other way did not run
    if rendering == "ssm":
        assert "ListGroupsForUser" in done.stderr  # the step after the branch ran



@pytest.mark.parametrize("demonstrated", ["error code", "response value", "optional input", "expected error"])
def test_a_synthesized_branch_renders_in_every_format_and_reads_back(demonstrated, tmp_path):
    made = {
        "error code": (user_ensured("carol", "devs", exists=False), user_ensured("dave", "ops", exists=True, start=10)),
        "response value": (instance_stopped_and_tagged("i-0123456789abcdef0", "running"),
                           instance_stopped_and_tagged("i-0fedcba9876543210", "stopped", start=10)),
        "optional input": (user_onboarded("carol", "devs"), user_onboarded("dave", None, start=10)),
        # CreateUser's EntityAlreadyExists changes nothing after it: expected, with no branch.
        "expected error": (user_created_or_existing("carol", exists=False),
                           user_created_or_existing("dave", exists=True, start=10)),
    }[demonstrated]
    runbook = synthesize_demonstrations(demonstrations(tmp_path, *made)).runbooks[0]
    assert any(step.branch or step.expected_errors for step in runbook.steps)
    for rendering in ("python", "bash"):
        render_checked(runbook, rendering)  # bash -n and shellcheck; Python compiles
    read = parse_document(render_checked(runbook, "ssm"), "runbook.yaml")
    assert runbook_to_json(read)["steps"] == runbook_to_json(runbook)["steps"]



@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("tagged", [False, True], ids=["untagged", "tagged"])
def test_a_failed_read_s_outputs_are_empty_and_its_branch_runs(rendering, tagged, moto_server, aws,
                                                               tmp_path):  # noqa: F811
    reset(moto_server)
    s3 = aws("s3")
    s3.create_bucket(Bucket="reports")
    if tagged:
        s3.put_bucket_tagging(Bucket="reports", Tagging={"TagSet": [{"Key": "owner", "Value": "ops"}]})
    done = run(bucket_tagged_once(), rendering, {"Bucket": "reports"}, moto_server, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    tags = s3.get_bucket_tagging(Bucket="reports")["TagSet"]
    assert tags == ([{"Key": "owner", "Value": "ops"}] if tagged else [{"Key": "team", "Value": "data"}])
    if rendering != "ssm":
        outputs = json.loads(done.stdout)
        assert (outputs["GetBucketTagging.Keys"], outputs["GetBucketTagging.FirstValue"]) == (
            (["owner"], "ops") if tagged else (None, None))


# -- what else reads a runbook ---------------------------------------------------------------------


def test_a_document_whose_jumps_are_not_a_branch_is_refused_in_one_line():
    text = render_checked(stop_if_running(), "ssm").replace('Default: "CreateTags"', 'Default: "DescribeInstances"')
    with pytest.raises(DocumentError) as refused:
        parse_document(text, "runbook.yaml")
    assert str(refused.value) == ("runbook.yaml: step IfRunning: it goes on at DescribeInstances, outside the steps "
                                  "laid out for its branch")


def test_the_policy_grants_the_arms_calls_and_nothing_for_the_branch():
    found = permissions(nested_branches())
    actions = sorted(action for statement in found.statements for action in statement.actions)
    assert actions == ["iam:AddUserToGroup", "iam:CreateLoginProfile", "iam:CreateUser", "iam:GetLoginProfile",
                       "iam:GetUser", "iam:TagUser"]
    assert found.warnings == []


def test_the_graph_draws_both_ways_and_the_tested_outcome():
    drawn = graph(user_in_group())
    assert 's2{"IfUserMissing<br/>aws:branch on whether step GetUser failed with NoSuchEntity"}' in drawn
    assert 's1 -->|"outcome"| s2' in drawn
    assert 's2 ==>|"when it holds"| s3' in drawn and 's3 -.-> s4' in drawn  # CreateUser, then AddUserToGroup
    assert 's2 ==>|"otherwise"| s4' in drawn  # the empty way goes on at AddUserToGroup


def test_lint_names_a_jump_to_a_step_the_document_lacks():
    text = render_checked(user_in_group(), "ssm")
    assert limit_problems(text) == []
    broken = text.replace('onFailure: "step:CreateUser"', 'onFailure: "step:CreateUsr"')
    assert limit_problems(broken) == ["step GetUser: it goes on at step CreateUsr, which the document does not have"]


def test_a_dry_run_plans_both_ways(tmp_path):
    path = tmp_path / "runbook.yaml"
    path.write_text(render_checked(stop_if_running(), "ssm"))
    result = run_cli("run", str(path), "--dry-run", "--param", "InstanceId=i-1234567890abcdef0")
    assert result.code == 0, result.stderr
    branch = json.loads(result.stdout)[1]
    assert (branch["step"], branch["test"]) == ("IfRunning", 'output DescribeInstances.State is "running"')
    assert [call["api"] for call in branch["steps"]] == ["StopInstances"]
    assert [call["api"] for call in branch["otherwise"]] == ["CreateTags"]


def test_the_compare_table_shows_each_runbook_s_branch_and_its_ways(tmp_path):
    demos = demonstrations(tmp_path, user_ensured("carol", "devs", exists=False),
                           user_ensured("dave", "ops", exists=True, start=10))
    synthesis = synthesize_demonstrations(demos, models=2)
    console = Console(record=True, width=400)
    console.print(comparison_table(synthesis, synthesis.runbooks))
    order = next(line for line in console.export_text().splitlines() if line.lstrip("│ ").startswith("order"))
    assert "GetUser → IfGetUserFailed [CreateUser | -] → AddUserToGroup" in order
    assert "GetUser → IfGetUserFailed [CreateUser → AddUserToGroup2 | AddUserToGroup]" in order
    # The second demonstration's AddUserToGroup is the step it matches in each runbook: AddUserToGroup
    # in both, so no row sets them apart.
    assert "call 5" not in console.export_text() and "a step no record names" not in console.export_text()


def test_explain_says_what_a_branch_tests_and_what_runs_either_way(tmp_path):
    synthesis = synthesize_demonstrations(demonstrations(
        tmp_path, user_ensured("carol", "devs", exists=False), user_ensured("dave", "ops", exists=True, start=10)))
    lines = explain(synthesis, step="IfGetUserFailed")
    assert lines[1:] == [
        "",
        "Branch IfGetUserFailed: when step GetUser failed with NoSuchEntity, it runs CreateUser; otherwise nothing. "
        "Either way the runbook goes on after it.",
        "  Step GetUser may fail with NoSuchEntity: the runbook expects that as an outcome, not as a failure, and any "
        "other error still stops it.",
    ]


def test_pysynth_run_evaluates_choices_as_ssm_does():
    values = {"{{ State }}": "running", "{{ Count }}": 3, "{{ Flag }}": True}

    def holds(condition: dict) -> bool:
        return choice_holds(condition, values.__getitem__)

    assert holds({"Variable": "{{ State }}", "StringEquals": "running"})
    assert not holds({"Not": [{"Variable": "{{ State }}", "StringEquals": "running"}]})
    assert holds({"And": [{"Variable": "{{ State }}", "StartsWith": "run"},
                          {"Or": [{"Variable": "{{ Count }}", "NumericGreater": 5},
                                  {"Variable": "{{ Flag }}", "BooleanEquals": True}]}]})
    assert holds({"Variable": "{{ State }}", "EqualsIgnoreCase": "RUNNING"})
    assert not holds({"Variable": "{{ Count }}", "NumericLesserOrEquals": 2})
    with pytest.raises(StepError, match="does not know the choice operator Matches"):
        holds({"Variable": "{{ State }}", "Matches": "r.*"})
