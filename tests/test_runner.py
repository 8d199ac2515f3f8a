"""pysynth run: SSM runbooks run locally against a moto server, planned with --dry-run, and refused
or stopped with a clear message when something is wrong."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import jmespath
import pytest

import pysynth.runner as runner_module

from conftest import run_cli, run_process
from moto_server import REGION, start_moto_server_with_managed_policies
from pysynth import runner
from pysynth.cli import EXIT_RUN_FAILED, EXIT_USAGE
from pysynth.model import Condition
from pysynth.paths import cli_query, list_selector, parse_selector, value_at
from pysynth.runner import RunOptions, StepResult, convert_input, convert_output, prepare
from pysynth.ssm import load_runbook

GOLDEN = Path(__file__).resolve().parent / "golden"
ONBOARDING = GOLDEN / "iam-onboarding.ssm.yaml"
MOTO_ACCOUNT = "123456789012"  # the account moto's caller identity is in
PASSWORD = "Correct-Horse-9!"


@pytest.fixture(scope="module")
def moto():
    """A moto server for this module, with AWS-managed policies (ReadOnlyAccess…) loaded."""
    yield from start_moto_server_with_managed_policies()


@pytest.fixture
def endpoint(moto, monkeypatch) -> str:
    """The moto server's URL, its state reset; the secret of the onboarding runbook in the environment."""
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST"), timeout=10).close()
    monkeypatch.setenv("PYSYNTH_SECRET_PASSWORD", PASSWORD)
    return moto


def client(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def user_names(endpoint: str) -> list[str]:
    return [user["UserName"] for user in client(endpoint, "iam").list_users()["Users"]]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runbook.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def onboard(endpoint: str, *params: str):
    arguments = [argument for param in params for argument in ("--param", param)]
    return run_cli("run", str(ONBOARDING), "--endpoint-url", endpoint, *arguments)


# --------------------------------------------------------------------------- the golden runbook


def test_runs_the_golden_onboarding_runbook_with_new_inputs(endpoint):
    client(endpoint, "iam").create_group(GroupName="platform-engineers")
    result = onboard(endpoint, "UserName=erin", "GroupName=platform-engineers")
    assert result.code == 0, result.stderr
    key = client(endpoint, "iam").list_access_keys(UserName="erin")["AccessKeyMetadata"][0]["AccessKeyId"]
    assert json.loads(result.stdout) == {
        "CreateUser.UserName": "erin", "CreateUser.Arn": f"arn:aws:iam::{MOTO_ACCOUNT}:user/erin",
        "CreateAccessKey.AccessKeyId": key,
    }
    assert "ran 5/5 CreateAccessKey: iam CreateAccessKey" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    iam = client(endpoint, "iam")
    assert iam.get_user(UserName="erin")["User"]["Tags"] == [{"Key": "team", "Value": "platform"}]
    policies = iam.list_attached_user_policies(UserName="erin")["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in policies] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    # moto ignores CreateLoginProfile's PasswordResetRequired: only the profile's existence is checked.
    assert iam.get_login_profile(UserName="erin")["LoginProfile"]["UserName"] == "erin"
    assert [group["GroupName"] for group in iam.list_groups_for_user(UserName="erin")["Groups"]] == ["platform-engineers"]
    assert len(iam.list_access_keys(UserName="erin")["AccessKeyMetadata"]) == 1


def test_the_json_model_runs_like_the_ssm_document(endpoint):
    client(endpoint, "iam").create_group(GroupName="developers")
    result = run_cli("run", str(GOLDEN / "iam-onboarding.json"), "--endpoint-url", endpoint)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["CreateUser.UserName"] == "bob"
    assert user_names(endpoint) == ["bob"]


def test_dry_run_prints_the_resolved_calls_and_makes_none(endpoint):
    result = run_cli("run", str(ONBOARDING), "--dry-run", "--param", "UserName=frank", "--endpoint-url", endpoint)
    assert result.code == 0, result.stderr
    calls = json.loads(result.stdout)
    assert [call["step"] for call in calls] == [
        "CreateUser", "AttachUserPolicy", "CreateLoginProfile", "AddUserToGroup", "CreateAccessKey",
    ]
    assert calls[0] == {
        "step": "CreateUser", "action": "aws:executeAwsApi", "service": "iam", "api": "CreateUser",
        "request": {"UserName": "frank", "Tags": [{"Key": "team", "Value": "platform"}]},
    }
    assert calls[2]["request"] == {
        "UserName": "<CreateUser.UserName>", "PasswordResetRequired": True, "Password": "<secret Password>",
    }
    assert calls[3]["request"] == {"GroupName": "developers", "UserName": "<CreateUser.UserName>"}
    assert "planned 5/5 CreateAccessKey" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert user_names(endpoint) == []


def test_dry_run_resolves_the_region_and_shows_what_only_aws_knows(endpoint):
    result = run_cli("run", str(GOLDEN / "terraform-vpc.ssm.yaml"), "--dry-run", "--region", "eu-west-3",
                     "--endpoint-url", endpoint)
    assert result.code == 0, result.stderr
    calls = {call["step"]: call["request"] for call in json.loads(result.stdout)}
    assert '"Principal":{"AWS":"<global:ACCOUNT_ID>"}' in calls["CreateRole"]["AssumeRolePolicyDocument"]
    assert calls["CreateSubnet"]["AvailabilityZone"] == "eu-west-3a"
    assert calls["CreateSubnet2"]["TagSpecifications"][0]["Tags"][1]["Value"] == "<CreateRouteTable.Value>"
    assert calls["RunInstances"]["NetworkInterfaces"][0]["NetworkInterfaceId"] == "<CreateNetworkInterface.NetworkInterfaceId>"


# --------------------------------------------------------------------------- failures


def test_a_failing_step_is_named_with_its_call_and_the_service_error(endpoint):
    client(endpoint, "iam").create_group(GroupName="developers")
    assert onboard(endpoint, "UserName=gina").code == 0
    # As a user runs it, to see that no traceback reaches the terminal.
    second = run_process("run", str(ONBOARDING), "--endpoint-url", endpoint, "--param", "UserName=gina")
    assert second.code == EXIT_RUN_FAILED
    assert "error: step CreateUser failed: iam CreateUser: EntityAlreadyExists:" in second.stderr
    assert "gina" in second.stderr
    assert "Traceback" not in second.stderr
    assert second.stdout == ""


def test_a_request_botocore_rejects_fails_its_step_before_the_call(endpoint):
    result = onboard(endpoint, "UserName=")
    assert result.code == EXIT_RUN_FAILED
    assert ("error: step CreateUser failed: iam CreateUser: the request is not valid: "
            "Invalid length for parameter UserName") in result.stderr
    assert user_names(endpoint) == []
    planned = run_cli("run", str(ONBOARDING), "--dry-run", "--param", "UserName=")
    assert planned.code == EXIT_RUN_FAILED
    assert "step CreateUser failed: iam CreateUser: the request is not valid" in planned.stderr


def test_an_unsupported_action_is_refused_before_any_call(tmp_path, endpoint):
    text = ONBOARDING.read_text().replace("  - name: AttachUserPolicy\n", """\
  - name: WaitForUser
    action: "aws:waitForAwsResourceProperty"
    inputs:
      Service: iam
      Api: GetUser
      UserName: "{{ CreateUser.UserName }}"
      PropertySelector: "$.User.UserName"
      DesiredValues: ["{{ UserName }}"]
  - name: Approve
    action: "aws:approve"
    inputs:
      Approvers: ["arn:aws:iam::123456789012:role/Approver"]
  - name: AttachUserPolicy
""")
    result = run_cli("run", str(write(tmp_path, text)), "--endpoint-url", endpoint)
    assert result.code == EXIT_USAGE
    assert "WaitForUser" not in result.stderr  # waits run
    assert ("error: step Approve: action aws:approve is not supported by pysynth run yet "
            "(it runs aws:executeAwsApi, aws:waitForAwsResourceProperty, aws:loop, aws:branch)") in result.stderr
    assert "nothing was run" in result.stderr
    assert result.stdout == ""
    assert user_names(endpoint) == []


def test_a_branch_in_another_form_is_refused_before_any_call(tmp_path, endpoint):
    # No Default: Automation would go on at the next step in the list, a jump the model of a branch
    # (two ways, then on after it) does not hold.
    text = ONBOARDING.read_text().replace("  - name: AttachUserPolicy\n", """\
  - name: ChooseGroup
    action: "aws:branch"
    inputs:
      Choices:
        - NextStep: AddUserToGroup
          Variable: "{{ GroupName }}"
          StringEquals: developers
  - name: AttachUserPolicy
""")
    result = run_cli("run", str(write(tmp_path, text)), "--endpoint-url", endpoint)
    assert result.code == EXIT_USAGE
    assert "error: step ChooseGroup: pysynth run runs an aws:branch in the form pysynth writes" in result.stderr
    assert "nothing was run" in result.stderr
    assert user_names(endpoint) == []


WAIT_FOR_USER = """\
  - name: WaitForUser
    action: "aws:waitForAwsResourceProperty"
    timeoutSeconds: 10
    inputs:
      Service: iam
      Api: GetUser
      UserName: "{{ CreateUser.UserName }}"
      PropertySelector: "$.User.Path"
      DesiredValues: ["PATH"]
  - name: AttachUserPolicy
"""


@pytest.mark.parametrize(("desired", "succeeds"), [('"/"', True), ('"{{ UserName }}"', False)])
def test_a_wait_polls_until_the_property_has_a_desired_value(tmp_path, endpoint, monkeypatch, desired, succeeds):
    sleeps = []
    monkeypatch.setattr(runner_module.time, "sleep", sleeps.append)
    client(endpoint, "iam").create_group(GroupName="developers")
    text = ONBOARDING.read_text().replace("  - name: AttachUserPolicy\n", WAIT_FOR_USER.replace('"PATH"', desired))
    result = run_cli("run", str(write(tmp_path, text)), "--endpoint-url", endpoint, "--param", "UserName=ida")
    if succeeds:
        assert result.code == 0, result.stderr
        assert sleeps == []  # accepted at the first look
    else:
        # The path is never the user's name: the wait gives up after its attempts, and stops the run.
        assert result.code == EXIT_RUN_FAILED
        # No botocore waiter checks the path: SSM's pace, a look every 5 seconds until the timeout.
        assert "step WaitForUser failed: iam GetUser: $.User.Path is / after 2 attempts, not one of ida" in result.stderr
        assert sleeps == [5]
    assert user_names(endpoint) == ["ida"]


def test_a_missing_secret_is_refused_and_named_with_its_environment_variable(endpoint, monkeypatch):
    monkeypatch.delenv("PYSYNTH_SECRET_PASSWORD")
    monkeypatch.setenv("PASSWORD", "set-for-something-else")  # a bare common name is never read
    result = onboard(endpoint, "UserName=hal")
    assert result.code == EXIT_USAGE
    assert ("error: input Password is required (a secret): set PYSYNTH_SECRET_PASSWORD in the environment, "
            "or give --param Password=VALUE") in result.stderr
    assert user_names(endpoint) == []


def test_a_dry_run_needs_no_secret(endpoint, monkeypatch):
    monkeypatch.delenv("PYSYNTH_SECRET_PASSWORD")
    result = run_cli("run", str(ONBOARDING), "--dry-run")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)[2]["request"]["Password"] == "<secret Password>"


def test_a_required_input_without_default_is_refused(tmp_path, endpoint):
    path = write(tmp_path, TAGGED_USER)
    result = run_cli("run", str(path), "--endpoint-url", endpoint)
    assert result.code == EXIT_USAGE
    assert "error: input UserName is required: give --param UserName=VALUE" in result.stderr


@pytest.mark.parametrize("param, message", [
    ("UserName", "--param 'UserName': expected NAME=VALUE"),
    ("=bob", "--param '=bob': expected NAME=VALUE"),
    ("Nickname=bob", "--param Nickname: the runbook has no such parameter (its parameters: GroupName, Password, UserName)"),
    ("AutomationAssumeRole=admin", "--param AutomationAssumeRole: 'admin' is not the ARN of an IAM role"),
])
def test_bad_params_are_refused(param, message, endpoint):
    result = onboard(endpoint, param)
    assert result.code == EXIT_USAGE
    assert f"error: {message}" in result.stderr
    assert user_names(endpoint) == []


def test_a_param_that_is_not_of_its_type_is_refused(tmp_path, endpoint):
    result = run_cli("run", str(write(tmp_path, TAGGED_USER)), "--param", "UserName=ida", "--param", "Limit=five")
    assert result.code == EXIT_USAGE
    assert "error: --param Limit: 'five' is not an Integer" in result.stderr


# --------------------------------------------------------------------------- values at run time

TAGGED_USER = """\
schemaVersion: '0.3'
description: A user tagged with the runtime values.
parameters:
  UserName:
    type: String
    description: (Required) The user.
  Limit:
    type: Integer
    default: 5
mainSteps:
  - name: CreateUser
    action: aws:executeAwsApi
    inputs:
      Service: iam
      Api: CreateUser
      UserName: "{{ UserName }}"
      Tags:
        - Key: where
          Value: "{{ global:AWS_PARTITION }}:{{ global:REGION }}:{{ global:ACCOUNT_ID }}"
        - Key: limit
          Value: "{{ Limit }}"
    outputs:
      - Name: Arn
        Selector: $.User.Arn
        Type: String
      - Name: Created
        Selector: $.User.CreateDate
        Type: String
      - Name: Boundary
        Selector: $.User.PermissionsBoundary.PermissionsBoundaryArn
        Type: String
"""


def test_globals_come_from_the_session_and_integers_read_as_text(tmp_path, endpoint):
    result = run_cli("run", str(write(tmp_path, TAGGED_USER)), "--endpoint-url", endpoint,
                     "--param", "UserName=ida", "--param", "Limit=42")
    assert result.code == 0, result.stderr
    tags = client(endpoint, "iam").get_user(UserName="ida")["User"]["Tags"]
    assert tags == [{"Key": "where", "Value": f"aws:{REGION}:{MOTO_ACCOUNT}"}, {"Key": "limit", "Value": "42"}]
    outputs = json.loads(result.stdout)
    assert outputs["CreateUser.Arn"] == f"arn:aws:iam::{MOTO_ACCOUNT}:user/ida"
    assert outputs["CreateUser.Created"].startswith("20")  # a timestamp, as ISO 8601 text
    # The selector that found nothing is warned about, and left out.
    assert "CreateUser.Boundary" not in outputs
    assert "warning: the response of step CreateUser has no $.User.PermissionsBoundary.PermissionsBoundaryArn" in result.stderr


def test_a_step_using_an_output_that_was_not_found_fails(tmp_path, endpoint):
    text = TAGGED_USER + """\
  - name: TagUser
    action: aws:executeAwsApi
    inputs:
      Service: iam
      Api: TagUser
      UserName: "{{ CreateUser.Boundary }}"
      Tags:
        - Key: k
          Value: v
"""
    result = run_cli("run", str(write(tmp_path, text)), "--endpoint-url", endpoint, "--param", "UserName=jo")
    assert result.code == EXIT_RUN_FAILED
    assert ("error: step TagUser failed: iam TagUser: {{ CreateUser.Boundary }} has no value: the response of "
            "step CreateUser has no $.User.PermissionsBoundary.PermissionsBoundaryArn") in result.stderr


def test_an_output_that_is_not_of_its_type_fails_its_step(tmp_path, endpoint):
    text = TAGGED_USER.replace("Selector: $.User.Arn\n        Type: String", "Selector: $.User.Arn\n        Type: Integer")
    result = run_cli("run", str(write(tmp_path, text)), "--endpoint-url", endpoint, "--param", "UserName=kim")
    assert result.code == EXIT_RUN_FAILED
    assert (f'step CreateUser failed: iam CreateUser: output Arn ($.User.Arn): the response has '
            f'"arn:aws:iam::{MOTO_ACCOUNT}:user/kim" here, which is not of type Integer') in result.stderr


def test_the_steps_run_as_the_automation_assume_role(endpoint):
    iam = client(endpoint, "iam")
    role = iam.create_role(RoleName="automation", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))["Role"]["Arn"]
    iam.create_group(GroupName="developers")
    options = RunOptions({"AutomationAssumeRole": role, "UserName": "lee"}, endpoint_url=endpoint)
    execution = prepare(load_runbook(ONBOARDING), options)
    identity = execution.aws.client("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/automation/pysynth-run"
    result = onboard(endpoint, f"AutomationAssumeRole={role}", "UserName=lee")
    assert result.code == 0, result.stderr
    assert user_names(endpoint) == ["lee"]


class GoTo:
    """A toy action that goes on at the step its input names, as aws:branch will."""

    def problems(self, step):
        return []

    def call(self, step):
        return f"go to {step.request['NextStep']}"

    def plan(self, step, execution):
        return {"next": step.request["NextStep"]}

    def run(self, step, execution):
        return StepResult(next_step=step.request["NextStep"])


def test_new_actions_plug_into_the_registry_and_may_choose_the_next_step(tmp_path, endpoint, monkeypatch):
    monkeypatch.setitem(runner.ACTIONS, "test:goTo", GoTo())
    text = """\
schemaVersion: '0.3'
parameters: {}
mainSteps:
  - name: Skip
    action: test:goTo
    inputs:
      NextStep: CreateSecond
  - name: CreateFirst
    action: aws:executeAwsApi
    inputs: {Service: iam, Api: CreateUser, UserName: first}
  - name: CreateSecond
    action: aws:executeAwsApi
    inputs: {Service: iam, Api: CreateUser, UserName: second}
"""
    result = run_cli("run", str(write(tmp_path, text)), "--endpoint-url", endpoint)
    assert result.code == 0, result.stderr
    assert "ran 1/3 Skip: go to CreateSecond" in result.stderr
    assert user_names(endpoint) == ["second"]


# --------------------------------------------------------------------------- conversions


@pytest.mark.parametrize("text, ssm_type, value", [
    ("bob", "String", "bob"),
    ("i-0abc", "AWS::EC2::Instance::Id", "i-0abc"),
    ("42", "Integer", 42),
    ("-3", "Integer", -3),
    ("TRUE", "Boolean", True),
    ("false", "Boolean", False),
    ('["a", "b,c"]', "StringList", ["a", "b,c"]),
    ("a, b ,c", "StringList", ["a", "b", "c"]),
    ("", "StringList", []),
    ('{"team": "platform"}', "StringMap", {"team": "platform"}),
    ('[{"Key": "k"}]', "MapList", [{"Key": "k"}]),
])
def test_params_convert_to_their_ssm_type(text, ssm_type, value):
    assert convert_input(text, ssm_type) == value


@pytest.mark.parametrize("text, ssm_type", [
    ("4.5", "Integer"), ("yes", "Boolean"), ("[1, 2]", "StringList"), ("[x", "StringList"),
    ('["a"]', "StringMap"), ('{"a": 1}', "MapList"),
])
def test_params_not_of_their_type_are_errors(text, ssm_type):
    with pytest.raises(ValueError, match=ssm_type):
        convert_input(text, ssm_type)


def test_selectors_read_members_and_indexes():
    response = {"Reservation": {"Instances": [{"InstanceId": "i-1"}, {"InstanceId": "i-2"}]}}
    assert parse_selector("$.Reservation.Instances[1].InstanceId") == ["Reservation", "Instances", 1, "InstanceId"]
    assert value_at(response, ["Reservation", "Instances", 1, "InstanceId"]) == "i-2"
    assert value_at(response, ["Reservation", "Instances", 2, "InstanceId"]) is None
    assert value_at(response, ["Reservation", "Missing"]) is None
    assert parse_selector("$") == []
    for selector in ("User.Arn", "$..Arn", "$.Tags[0", "$.Tags[?(@.Key > 1)]"):
        assert parse_selector(selector) is None, selector


def test_list_selectors_flatten_and_keep_the_elements_a_condition_names():
    response = {"Reservations": [
        {"Instances": [{"InstanceId": "i-1", "State": {"Name": "running"}, "Tags": [{"Key": "backup"}]},
                       {"InstanceId": "i-2", "State": {"Name": "stopped"}}]},
        {"Instances": [{"InstanceId": "i-3", "State": {"Name": "running"}}]},
    ]}
    path = "Reservations[*].Instances[*].InstanceId"
    element = "Reservations[*].Instances[*]"
    assert value_at(response, parse_selector(list_selector(path))) == ["i-1", "i-2", "i-3"]
    for where, kept in ((Condition(element, "State.Name", "equals", "running"), ["i-1", "i-3"]),
                        (Condition(element, "InstanceId", "prefix", "i-2"), ["i-2"]),
                        (Condition(element, "Tags", "tag", "backup"), ["i-1"])):
        selector = list_selector(path, where)
        assert value_at(response, parse_selector(selector)) == kept, selector
        assert jmespath.search(cli_query(path, where), response) == kept
    # A quote in a value from the log stays inside the filter's literal.
    odd = Condition(element, "Tags", "tag", "it's")
    assert parse_selector(list_selector(path, odd))[3].value == "it's"
    assert jmespath.search(cli_query(path, odd), response) == []


@pytest.mark.parametrize("value, ssm_type, converted", [
    ("x", "String", "x"), (5, "String", "5"), (True, "String", "true"),
    ("7", "Integer", 7), (7, "Integer", 7), ("true", "Boolean", True),
    ([1, "a"], "StringList", ["1", "a"]), ({"a": "b"}, "StringMap", {"a": "b"}), ([{"a": 1}], "MapList", [{"a": 1}]),
])
def test_outputs_convert_to_their_type_as_ssm_does(value, ssm_type, converted):
    assert convert_output(value, ssm_type) == converted


@pytest.mark.parametrize("value, ssm_type", [
    ({"a": 1}, "String"), ("x", "Integer"), (True, "Integer"), ("yes", "Boolean"), ([{"a": 1}], "StringList"),
])
def test_outputs_not_of_their_type_are_errors(value, ssm_type):
    with pytest.raises(ValueError, match=f"not of type {ssm_type}"):
        convert_output(value, ssm_type)
