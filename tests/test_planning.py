"""The solver plans the runbook: the order of calls CloudTrail logged in one second, waits where the
log shows polling before a step used the polled resource, and retries where a call failed before
the same request succeeded. Each case is a small CloudTrail log built here from real record
shapes; the runbooks are checked by what they contain (real AWS is eventually consistent, the
emulator is not) and by running every rendering against moto with inputs other than the logged
ones.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from conftest import run_cli
from moto_server import REGION, start_moto_server_with_managed_policies
from pysynth.model import InputRef, runbook_from_json, runbook_to_json
from test_emulator import run_rendering

ACCOUNT = "111122223333"
ALICE = {
    "type": "IAMUser", "principalId": "AIDAEXAMPLEALICE01", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLEALICE0001", "userName": "alice",
}
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
INSTANCE = "i-0a1b2c3d4e5f60718"
RENDERINGS = {"ssm": "ssm.yaml", "bash": "sh", "python": "py"}


def record(number: int, time_: str, source: str, name: str, request: dict | None, response: dict | None = None,
           *, read_only: bool = False, error: str | None = None) -> dict:
    item = {
        "eventVersion": "1.08", "userIdentity": ALICE, "eventTime": time_, "eventSource": f"{source}.amazonaws.com",
        "eventName": name, "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.30",
        "requestParameters": request, "responseElements": response, "requestID": f"req-{number:04d}",
        "eventID": f"00000000-0000-0000-0000-{number:012d}", "readOnly": read_only, "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": ACCOUNT,
    }
    if error:
        item.update(errorCode=error, errorMessage=f"{error} (as logged)", responseElements=None)
    return item


def write_log(directory: Path, name: str, records: list[dict]) -> Path:
    path = directory / name
    path.write_text(json.dumps({"Records": records}, indent=1))
    return path


@pytest.fixture(scope="module")
def moto():
    yield from start_moto_server_with_managed_policies()


def reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()


def client(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def synthesize(log: Path, directory: Path, fmt: str) -> str:
    result = run_cli("synth", "--format", fmt, str(log))
    assert result.code == 0, result.stderr
    (directory / f"runbook.{RENDERINGS.get(fmt, fmt)}").write_text(result.stdout)
    return result.stdout


# --------------------------------------------------------------------------- order within a second

SECOND = "2024-03-05T10:02:11Z"


def same_second_onboarding(directory: Path) -> Path:
    """AttachUserPolicy, CreateAccessKey and CreateUser, logged in this order in one second: both
    responses echo the user name, so the data flow alone shows no order."""
    return write_log(directory, "same-second.json", [
        record(1, SECOND, "iam", "AttachUserPolicy", {"userName": "carol", "policyArn": READ_ONLY_POLICY}),
        record(2, SECOND, "iam", "CreateAccessKey", {"userName": "carol"}, {"accessKey": {
            "userName": "carol", "accessKeyId": "AKIAEXAMPLECAROL0001", "status": "Active",
            "createDate": "Mar 5, 2024 10:02:11 AM"}}),
        record(3, SECOND, "iam", "CreateUser", {"userName": "carol"}, {"user": {
            "path": "/", "userName": "carol", "userId": "AIDAEXAMPLECAROL0001",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/carol", "createDate": "Mar 5, 2024 10:02:11 AM"}}),
    ])


def test_calls_of_one_second_are_ordered_by_what_they_need(tmp_path):
    model = json.loads(synthesize(same_second_onboarding(tmp_path), tmp_path, "json"))
    names = [step["name"] for step in model["steps"]]
    assert names[0] == "CreateUser" and sorted(names[1:]) == ["AttachUserPolicy", "CreateAccessKey"]
    assert [item["name"] for item in model["inputs"]] == ["UserName"]
    for step in model["steps"][1:]:
        assert step["request"]["UserName"] == {"$output": ["CreateUser", "UserName"]}


def test_verify_certifies_the_planned_order_and_rejects_the_logged_one(tmp_path):
    log = same_second_onboarding(tmp_path)
    synthesize(log, tmp_path, "ssm")
    assert run_cli("verify", str(tmp_path / "runbook.ssm.yaml"), str(log)).code == 0
    # The log's order, every user name from the input: each call names carol before she exists.
    runbook = runbook_from_json(json.loads(synthesize(log, tmp_path, "json")))
    for step in runbook.steps:
        step.request["UserName"] = InputRef("UserName")
    runbook.steps = [runbook.step("AttachUserPolicy"), runbook.step("CreateAccessKey"), runbook.step("CreateUser")]
    broken = write_log(tmp_path, "broken.json", [])
    broken.write_text(json.dumps(runbook_to_json(runbook)))
    result = run_cli("verify", str(broken), str(log))
    assert result.code == 5
    problems = [line for line in result.stderr.splitlines() if line.startswith("lifecycle-order")]
    assert len(problems) == 2
    assert "step AttachUserPolicy names 'carol' before step CreateUser creates it" in problems[0]


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_the_planned_order_runs_with_a_new_user(rendering, tmp_path, moto):
    reset(moto)
    synthesize(same_second_onboarding(tmp_path), tmp_path, rendering)
    # The scripts keep the access key's secret in a file the user names.
    secrets_file = tmp_path / "secrets.json" if rendering != "ssm" else None
    outputs = run_rendering(rendering, tmp_path / f"runbook.{RENDERINGS[rendering]}", moto, {"UserName": "dave"}, {},
                            secrets_file)
    assert outputs["CreateUser.UserName"] == "dave"
    iam = client(moto, "iam")
    attached = iam.list_attached_user_policies(UserName="dave")["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [READ_ONLY_POLICY]
    assert len(iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]) == 1


# --------------------------------------------------------------------------- stop, poll, modify


def stop_poll_modify(directory: Path) -> Path:
    """StopInstances, 28 DescribeInstances polls of the instance, then ModifyInstanceAttribute: the
    instance type can only change once the instance has stopped."""
    polls = [
        record(10 + poll, f"2024-03-05T10:{5 + poll // 30:02d}:{(poll * 2) % 60:02d}Z", "ec2", "DescribeInstances",
               {"instancesSet": {"items": [{"instanceId": INSTANCE}]}, "filterSet": {}}, read_only=True)
        for poll in range(28)
    ]
    return write_log(directory, "stop-poll-modify.json", [
        record(1, "2024-03-05T10:04:58Z", "ec2", "StopInstances", {"instancesSet": {"items": [{"instanceId": INSTANCE}]},
                                                                    "force": False},
               {"instancesSet": {"items": [{"instanceId": INSTANCE, "currentState": {"code": 64, "name": "stopping"},
                                            "previousState": {"code": 16, "name": "running"}}]}}),
        *polls,
        record(50, "2024-03-05T10:06:00Z", "ec2", "ModifyInstanceAttribute",
               {"instanceId": INSTANCE, "instanceType": {"value": "t3.large"}}, {"_return": True}),
    ])


def test_a_polled_state_is_waited_for_in_every_format(tmp_path):
    log = stop_poll_modify(tmp_path)
    model = json.loads(synthesize(log, tmp_path, "json"))
    assert [step["name"] for step in model["steps"]] == [
        "StopInstances", "WaitForInstanceStopped", "ModifyInstanceAttribute"]
    wait = model["steps"][1]
    assert wait["action"] == "aws:waitForAwsResourceProperty"
    assert wait["wait"]["property_selector"] == "$.Reservations[0].Instances[0].State.Name"
    assert wait["wait"]["desired_values"] == ["stopped"]
    assert wait["request"] == {"InstanceIds": [{"$input": "InstanceIds"}]} or wait["request"]["InstanceIds"]
    ssm = synthesize(log, tmp_path, "ssm")
    at = ssm.index("name: WaitForInstanceStopped")
    assert ssm.index("name: StopInstances") < at < ssm.index("name: ModifyInstanceAttribute")
    assert 'PropertySelector: "$.Reservations[0].Instances[0].State.Name"' in ssm[at:]
    bash = synthesize(log, tmp_path, "bash")
    at = bash.index("aws_wait ec2 instance-stopped")
    assert bash.index("aws_call ec2 stop-instances") < at < bash.index("aws_call ec2 modify-instance-attribute")
    python = synthesize(log, tmp_path, "python")
    at = python.index("get_waiter('instance_stopped').wait(")
    assert python.index(".stop_instances(") < at < python.index(".modify_instance_attribute(")


def test_without_the_unwaited_polls_objective_the_wait_is_left_out(tmp_path):
    log = stop_poll_modify(tmp_path)
    objectives = tmp_path / "objectives.lp"
    objectives.write_text("priority(inputs,3). priority(steps,2). priority(log_order,1).\n")
    result = run_cli("synth", "--format", "json", "--objectives", str(objectives), str(log))
    assert result.code == 0, result.stderr
    assert [step["name"] for step in json.loads(result.stdout)["steps"]] == ["StopInstances", "ModifyInstanceAttribute"]
    # compare shows both: the wait costs a step, leaving it out leaves a polled state unwaited.
    table = run_cli("compare", "-n", "2", str(log)).stdout
    assert "WaitForInstanceStopped" in table


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_the_wait_runs_against_moto(rendering, tmp_path, moto):
    reset(moto)
    ec2 = client(moto, "ec2")
    instance = ec2.run_instances(ImageId="ami-1e749f67", InstanceType="t3.small", MinCount=1, MaxCount=1)
    instance_id = instance["Instances"][0]["InstanceId"]
    runbook = json.loads(synthesize(stop_poll_modify(tmp_path), tmp_path, "json"))
    synthesize(stop_poll_modify(tmp_path), tmp_path, rendering)
    # The instance is the runbook's one input: another instance than the logged one.
    [only] = runbook["inputs"]
    inputs = {only["name"]: json.dumps([instance_id]) if only["type"] == "StringList" else instance_id}
    run_rendering(rendering, tmp_path / f"runbook.{RENDERINGS[rendering]}", moto, inputs, {})
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    [described] = reservation["Instances"]
    assert (described["State"]["Name"], described["InstanceType"]) == ("stopped", "t3.large")


# --------------------------------------------------------------------------- retries


def failing_then_succeeding(directory: Path) -> Path:
    """AddUserToGroup failed twice with NoSuchEntity (the group was still being created elsewhere)
    before the same request succeeded."""
    request = {"groupName": "release-managers", "userName": "erin"}
    return write_log(directory, "retried.json", [
        record(1, "2024-03-05T10:02:11Z", "iam", "AddUserToGroup", request, error="NoSuchEntity"),
        record(2, "2024-03-05T10:02:13Z", "iam", "AddUserToGroup", request, error="NoSuchEntity"),
        record(3, "2024-03-05T10:02:17Z", "iam", "AddUserToGroup", request),
    ])


def test_a_call_that_failed_before_it_succeeded_is_retried_in_every_format(tmp_path):
    log = failing_then_succeeding(tmp_path)
    [step] = json.loads(synthesize(log, tmp_path, "json"))["steps"]
    assert step["retry"] == {"max_attempts": 4, "errors": ["NoSuchEntity"]}
    assert "maxAttempts: 4" in synthesize(log, tmp_path, "ssm")
    assert "aws_call_retried 4 'NoSuchEntity' iam add-user-to-group" in synthesize(log, tmp_path, "bash")
    assert "errors=('NoSuchEntity',)" in synthesize(log, tmp_path, "python")


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_the_retry_outlasts_a_resource_that_appears_late(rendering, tmp_path, moto):
    reset(moto)
    iam = client(moto, "iam")
    iam.create_user(UserName="frank")
    synthesize(failing_then_succeeding(tmp_path), tmp_path, rendering)
    # The group appears a moment after the runbook starts, as IAM's eventual consistency would have it.
    late = threading.Timer(1.0, lambda: iam.create_group(GroupName="auditors"))
    late.start()
    started = time.monotonic()
    try:
        run_rendering(rendering, tmp_path / f"runbook.{RENDERINGS[rendering]}", moto,
                      {"GroupName": "auditors", "UserName": "frank"}, {})
    finally:
        late.join()
    assert time.monotonic() - started >= 1.0
    assert [group["GroupName"] for group in iam.list_groups_for_user(UserName="frank")["Groups"]] == ["auditors"]


def test_a_session_ended_in_the_second_it_started_reads_its_id_from_the_start(tmp_path):
    # CloudTrail logged TerminateSession first: its session id is still the one StartSession made.
    session_id = "alice-0a1b2c3d4e5f60718"
    log = write_log(tmp_path, "session.json", [
        record(1, SECOND, "ssm", "TerminateSession", {"sessionId": session_id}, {"sessionId": session_id}),
        record(2, SECOND, "ssm", "StartSession", {"target": INSTANCE},
               {"sessionId": session_id, "tokenValue": "HIDDEN_DUE_TO_SECURITY_REASONS",
                "streamUrl": f"wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/{session_id}"}),
    ])
    model = json.loads(synthesize(log, tmp_path, "json"))
    assert [step["name"] for step in model["steps"]] == ["StartSession", "TerminateSession"]
    assert model["steps"][1]["request"] == {"SessionId": {"$output": ["StartSession", "SessionId"]}}
    assert session_id not in json.dumps(model["inputs"])


# --------------------------------------------------------------------------- the shared Terraform slice

GOLDEN = Path(__file__).resolve().parent / "golden"


def test_the_terraform_runbook_waits_for_the_nat_gateway_and_retries_the_instance_launch():
    # The log polls DescribeNatGateways 15 times before CreateRoute, and RunInstances fails twice
    # with "Invalid IAM Instance Profile name" while IAM propagates the profile.
    ssm = (GOLDEN / "terraform-vpc.ssm.yaml").read_text()
    at = ssm.index("name: WaitForNatGatewayAvailable")
    assert ssm.index("name: CreateNatGateway") < at < ssm.index("name: CreateRoute2")
    assert 'DesiredValues:\n        - "available"' in ssm[at:]
    launch = ssm[ssm.index("name: RunInstances"):]
    assert launch.index("maxAttempts: 4") < launch.index("inputs:")
    bash = (GOLDEN / "terraform-vpc.sh").read_text()
    at = bash.index("aws_wait ec2 nat-gateway-available")
    assert bash.index("aws_call ec2 create-nat-gateway") < at < bash.rindex("aws_call ec2 create-route")
    assert "aws_call_retried 4 'InvalidParameterValue' ec2 run-instances" in bash
    python = (GOLDEN / "terraform-vpc.py").read_text()
    at = python.index("get_waiter('nat_gateway_available')")
    assert python.index(".create_nat_gateway(") < at < python.rindex(".create_route(")
    launch = python[python.index("with_retries(\n        lambda: ec2_client.run_instances("):]
    assert "attempts=4,\n        errors=('InvalidParameterValue',)," in launch
