"""Which request values are inputs, runtime values, step outputs or literals, decided from
botocore's shapes and the structure of ARNs and URLs rather than from lists of member names: each
case is a small log and the runbook a user gets from it."""

from __future__ import annotations

import json

import pytest

from conftest import ACCOUNT, make_record, one_demonstration, run_cli, write_log
from pysynth.ingest.select import Selection, ingest
from pysynth.model import GlobalRef, InputRef, OutputRef, Template
from pysynth.synth import synthesize
from pysynth.verify import verify

REGION = "eu-west-1"  # make_record's region
ARN_HEAD = ("arn:", GlobalRef("AWS_PARTITION"))


def synthesized(tmp_path, *records):
    for number, record in enumerate(records):
        record["eventTime"] = f"2024-03-05T10:00:{number:02d}Z"
        record["eventID"] = f"event-{number}"
    log = write_log(tmp_path / "log.json", list(records))
    calls = ingest([str(log)], Selection(all_principals=True)).kept
    runbook = synthesize(calls).runbooks[0]
    assert verify(runbook, one_demonstration(calls)).certified
    return runbook


def inputs(runbook):
    return {item.name: item.default for item in runbook.inputs}


def test_an_arn_of_a_topic_that_existed_before_makes_the_topic_an_input(tmp_path):
    runbook = synthesized(tmp_path, make_record(
        "Subscribe", source="sns.amazonaws.com",
        request={"topicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts", "protocol": "email",
                 "endpoint": "ops@example.com"}))
    assert runbook.steps[0].request["TopicArn"] == Template(ARN_HEAD + (
        ":sns:", GlobalRef("REGION"), ":", GlobalRef("ACCOUNT_ID"), ":", InputRef("TopicName")))
    assert inputs(runbook)["TopicName"] == "alerts"


@pytest.mark.parametrize(("member", "arn", "name", "default"), [
    ("stateMachineArn", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:NightlyBackup", "StateMachineName",
     "NightlyBackup"),
    ("keyId", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab", "KeyId",
     "1234abcd-12ab-34cd-56ef-1234567890ab"),
])
def test_state_machines_and_keys_named_by_arn_are_inputs(tmp_path, member, arn, name, default):
    operation, source = ("StartExecution", "states") if member == "stateMachineArn" else ("DisableKey", "kms")
    runbook = synthesized(tmp_path, make_record(operation, source=f"{source}.amazonaws.com", request={member: arn}))
    assert inputs(runbook)[name] == default
    written = runbook.steps[0].request[member[0].upper() + member[1:] if source == "kms" else member]
    assert written.parts[-1] == InputRef(name) and ACCOUNT not in json.dumps(written.parts, default=str)


def test_a_queue_url_takes_the_region_account_and_queue_from_the_runtime_and_inputs(tmp_path):
    runbook = synthesized(tmp_path, make_record(
        "SendMessage", source="sqs.amazonaws.com",
        request={"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders", "messageBody": "hello"},
        response={"messageId": "5fea7756-0ea4-451a-a703-a558b933e274",
                  "mD5OfMessageBody": "5d41402abc4b2a76b9719d911017c592"}))
    assert runbook.steps[0].request["QueueUrl"] == Template((
        "https://sqs.", GlobalRef("REGION"), ".amazonaws.com/", GlobalRef("ACCOUNT_ID"), "/", InputRef("QueueName")))
    assert inputs(runbook)["QueueName"] == "orders"


def test_a_lower_case_name_member_is_an_input(tmp_path):
    runbook = synthesized(tmp_path, make_record(
        "CreateStateMachine", source="states.amazonaws.com",
        request={"name": "Nightly", "definition": "{}", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/StepRole"},
        response={"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Nightly",
                  "creationDate": "Mar 5, 2024 10:00:00 AM"}))
    step = runbook.steps[0]
    assert step.request["name"] == InputRef("Name") and inputs(runbook)["Name"] == "Nightly"
    assert step.request["roleArn"].parts[-1] == InputRef("RoleName") and inputs(runbook)["RoleName"] == "StepRole"


def test_a_short_user_name_inside_a_policy_follows_the_user_name(tmp_path):
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": f"arn:aws:iam::{ACCOUNT}:user/bob"}]}
    runbook = synthesized(
        tmp_path,
        make_record("CreateUser", request={"userName": "bob"}, response={"user": {
            "userName": "bob", "userId": "AIDAEXAMPLEBOB", "path": "/", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
            "createDate": "Mar 5, 2024 10:00:00 AM"}}),
        make_record("PutUserPolicy", request={"userName": "bob", "policyName": "self-manage",
                                              "policyDocument": json.dumps(document)}),
    )
    policy = runbook.step("PutUserPolicy").request["PolicyDocument"]
    assert OutputRef("CreateUser", "UserName") in policy.parts
    assert not any(isinstance(part, str) and "user/bob" in part for part in policy.parts)
    assert "bob" not in [item.default for item in runbook.inputs if item.name != "UserName"]


def test_account_ids_and_regions_in_a_list_are_runtime_values(tmp_path):
    layer = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:shared-libs:3"
    runbook = synthesized(tmp_path, make_record(
        "UpdateFunctionConfiguration20150331v2", source="lambda.amazonaws.com",
        request={"functionName": "api", "layers": [layer]}, response={"functionName": "api"}))
    assert runbook.steps[0].request["Layers"] == [Template(ARN_HEAD + (
        ":lambda:", GlobalRef("REGION"), ":", GlobalRef("ACCOUNT_ID"), ":layer:", InputRef("LayerName"), ":3"))]
    assert ACCOUNT not in json.dumps([item.default for item in runbook.inputs])


def test_cloudtrail_enum_spellings_become_the_models(tmp_path):
    runbook = synthesized(tmp_path, make_record(
        "ModifySnapshotAttribute", source="ec2.amazonaws.com",
        request={"snapshotId": "snap-0123456789abcdef0", "attributeType": "CREATE_VOLUME_PERMISSION",
                 "createVolumePermission": {"add": {"items": [{"userId": "444455556666"}]}}},
        response={"_return": True}))
    assert runbook.steps[0].request["Attribute"] == "createVolumePermission"


@pytest.mark.parametrize(("operation", "source", "request_", "container"), [
    ("TagResource", "ecs", {"resourceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod",
                            "tags": [{"key": "team", "value": "core"}]}, "tags"),
    ("AddTags", "cloudtrail", {"resourceId": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main",
                               "tagsList": [{"key": "owner", "value": "security"}]}, "TagsList"),
])
def test_tag_keys_and_values_are_data_whatever_the_container_is_called(tmp_path, operation, source, request_,
                                                                       container):
    runbook = synthesized(tmp_path, make_record(operation, source=f"{source}.amazonaws.com", request=request_))
    tags = runbook.steps[0].request[container]
    assert all(isinstance(value, str) for tag in tags for value in tag.values())
    assert not any(default in ("team", "core", "owner", "security") for default in inputs(runbook).values())


def test_a_tags_map_is_data(tmp_path):
    runbook = synthesized(tmp_path, make_record(
        "TagResource", source="lambda.amazonaws.com",
        request={"resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api", "tags": {"ownerId": "team-core-01"}}))
    assert runbook.steps[0].request["Tags"] == {"ownerId": "team-core-01"}
    assert inputs(runbook) == {"FunctionName": "api"}


def test_the_fixed_runbooks_render_in_every_format(tmp_path):
    log = write_log(tmp_path / "mixed.json", [
        make_record("Subscribe", source="sns.amazonaws.com", time="2024-03-05T10:00:00Z",
                    request={"topicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts", "protocol": "email",
                             "endpoint": "ops@example.com"}),
        make_record("SendMessage", source="sqs.amazonaws.com", time="2024-03-05T10:00:01Z",
                    request={"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders", "messageBody": "x"}),
    ])
    for fmt in ("ssm", "bash", "python"):
        result = run_cli("synth", "--format", fmt, str(log))
        assert result.code == 0, result.stderr
        assert ACCOUNT not in result.stdout and REGION not in result.stdout


def test_a_queue_url_of_another_account_and_region_is_an_input_by_boto3s_resource_model(tmp_path):
    url = "https://sqs.us-west-2.amazonaws.com/999988887777/partner-orders"
    runbook = synthesized(tmp_path, make_record(
        "SendMessage", source="sqs.amazonaws.com", request={"queueUrl": url, "messageBody": "hello"}))
    assert runbook.steps[0].request["QueueUrl"] == InputRef("QueueUrl") and inputs(runbook)["QueueUrl"] == url
