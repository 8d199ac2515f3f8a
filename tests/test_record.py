"""`pysynth record` against moto: traces of live sessions with full requests and responses, and the
whole loop for every scenario under tests/scenarios: record -> synth -> verify -> run the runbook
with new inputs -> check the emulator's state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import boto3
import botocore.session
import pytest

from conftest import run_cli, run_process
from moto_server import MOTO_ENVIRONMENT, moto_server  # noqa: F401 - the module's moto server
from pysynth.ingest.normalize import Normalizer
from pysynth.record import HIDDEN
from pysynth.render import environment_name, option_name

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
TRACE_KEYS = {
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
    "userAgent", "requestParameters", "responseElements", "eventID", "readOnly", "eventType", "managementEvent",
    "recipientAccountId",
}
RECORDER_ARN = "arn:aws:iam::123456789012:user/pysynth-recorder"  # moto's account
MODELS = botocore.session.get_session()


@pytest.fixture
def aws(moto_server):
    """boto3 clients on the moto server, for checking its state."""
    session = boto3.Session(region_name=MOTO_ENVIRONMENT["AWS_REGION"])
    return lambda service: session.client(service, endpoint_url=moto_server)


@pytest.fixture
def record(moto_server, tmp_path):
    """``pysynth record -o TRACE -- COMMAND...`` in this process; returns the run and the trace."""

    def run(*command: str):
        # Scenario scripts use boto3's default session: make it afresh, from this module's environment.
        boto3.DEFAULT_SESSION = None
        trace = tmp_path / "trace.json"
        result = run_cli("record", "-o", str(trace), "--", *command)
        return result, json.loads(trace.read_text())["Records"]

    return run


def scenario_command(url: str, script: str, options: dict[str, str]) -> list[str]:
    arguments = [item for option, value in options.items() for item in (option, value)]
    return ["python", str(SCENARIOS / f"{script}.py"), "--endpoint-url", url, *arguments]


def names(records: list[dict]) -> list[str]:
    return [record["eventName"] for record in records]


def leaf(value, path: str):
    for key in path.split("."):
        value = value[key]
    return value


# --------------------------------------------------------------------------- the scenarios


NEW_OBJECT_BODY = b"the rerun's own body\n"


def check_s3_object(aws, new):
    item = aws("s3").get_object(Bucket=new["rec-object-bucket"], Key=new["rec/notes.txt"])
    assert item["ContentType"] == "text/plain"
    # The recorder never reads a streaming body: the runbook sends the file the rerun names.
    assert item["Body"].read() == NEW_OBJECT_BODY


def check_s3_hardening(aws, new):
    s3, bucket = aws("s3"), new["rec-hardened-bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "owner", "Value": "alice"}]


def instances(aws, image_id: str) -> list[dict]:
    reservations = aws("ec2").describe_instances(Filters=[{"Name": "image-id", "Values": [image_id]}])["Reservations"]
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def name_tag(resource: dict) -> str | None:
    return {tag["Key"]: tag["Value"] for tag in resource.get("Tags", [])}.get("Name")


def check_ec2_tagged(aws, new):
    (instance,) = instances(aws, new["ami-1e749f67"])
    assert name_tag(instance) == "rec-web"
    assert instance["InstanceType"] == "t3.micro"


def check_ec2_stop_start(aws, new):
    (instance,) = instances(aws, new["ami-1e749f67"])
    assert name_tag(instance) == "rec-stop-start"
    assert instance["State"]["Name"] == "running"


def tag_running_instance(aws, phase, values):
    """One running instance named rec-resize: before the rerun a new one, the recorded one untagged."""
    ec2 = aws("ec2")
    for instance in tagged_instances(aws, "rec-resize"):
        ec2.delete_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": "Name"}])
    ec2.run_instances(ImageId="ami-1e749f67", InstanceType="t3.micro", MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "rec-resize"}, {"Key": "phase", "Value": phase}]}])


def tagged_instances(aws, name: str) -> list[dict]:
    filters = [{"Name": "tag:Name", "Values": [name]}]
    reservations = aws("ec2").describe_instances(Filters=filters)["Reservations"]
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def check_ec2_resized(aws, new):
    # The runbook found the instance tagged now, not the one the recording resized.
    (instance,) = tagged_instances(aws, "rec-resize")
    assert {tag["Key"]: tag["Value"] for tag in instance["Tags"]}["phase"] == "rerun"
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("t3.large", "running")


def check_volume_snapshot(aws, new):
    ec2 = aws("ec2")
    volumes = ec2.describe_volumes(Filters=[{"Name": "tag:Name", "Values": ["rec-volume"]}])["Volumes"]
    assert len(volumes) == 2, "the runbook made a second volume, tagged as the first"
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "tag:Name", "Values": ["rec-volume"]}])["Snapshots"]
    assert {snapshot["VolumeId"] for snapshot in snapshots} == {volume["VolumeId"] for volume in volumes}


def check_iam_role(aws, new):
    iam, role = aws("iam"), new["rec-app-role"]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [f"arn:aws:iam::123456789012:policy/{new['rec-read-logs']}"]
    profile = iam.get_instance_profile(InstanceProfileName=new["rec-app-profile"])["InstanceProfile"]
    assert [item["RoleName"] for item in profile["Roles"]] == [role]


def check_iam_user(aws, new):
    iam, user, group = aws("iam"), new["rec-alice"], new["rec-readers"]
    assert [item["GroupName"] for item in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    attached = iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]
    assert [policy["PolicyName"] for policy in attached] == [new["rec-list-buckets"]]
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["UserName"] == user
    assert len(iam.list_access_keys(UserName=user)["AccessKeyMetadata"]) == 1


def check_dynamodb(aws, new):
    dynamodb, table = aws("dynamodb"), new["rec-orders"]
    assert dynamodb.describe_table(TableName=table)["Table"]["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": "rec-order-1"}})["Item"]
    assert item["owner"] == {"S": "platform"}


# The attributes of the item each phase moves besides its key: the rerun's item has others than the
# recorded one (a set, a nested map, a list, a boolean, a null), which the runbook copies as it reads them.
MOVED_ATTRIBUTES = {
    "record": {"owner": {"S": "alice"}, "size": {"N": "3"}},
    "rerun": {"owner": {"S": "bob \"o'brien\" $(id)"}, "labels": {"SS": ["blue", "green"]}, "archived": {"BOOL": True},
              "address": {"M": {"city": {"S": "Ghent"}, "zip": {"N": "9000"}}}, "scores": {"L": [{"N": "1"}, {"S": "two"}]},
              "retired": {"NULL": True}},
}


def moved_item(phase: str, item_id: str) -> dict:
    return {"id": {"S": item_id}, **MOVED_ATTRIBUTES[phase]}


def tables_with_an_item(aws, phase, values):
    """A source table holding the item to move and an empty target table, under this phase's names."""
    dynamodb = aws("dynamodb")
    for table in (values["rec-source"], values["rec-target"]):
        dynamodb.create_table(TableName=table, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName=values["rec-source"], Item=moved_item(phase, values["rec-item-1"]))


def check_item_moved(aws, new):
    # The item the rerun's key names, with all its attributes, is in the target table, and only it:
    # not the logged item. It is gone from the source table.
    dynamodb, key = aws("dynamodb"), {"id": {"S": new["rec-item-1"]}}
    assert dynamodb.scan(TableName=new["rec-target"])["Items"] == [moved_item("rerun", new["rec-item-1"])]
    assert dynamodb.scan(TableName=new["rec-source"])["Items"] == []
    assert "Item" not in dynamodb.get_item(TableName=new["rec-source"], Key=key)


def check_sqs(aws, new):
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=new["rec-jobs"])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(f":{new['rec-jobs-dlq']}")
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "platform"}


def check_sns(aws, new):
    sns = aws("sns")
    (topic,) = [item["TopicArn"] for item in sns.list_topics()["Topics"] if item["TopicArn"].endswith(f":{new['rec-alerts']}")]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "Alerts"
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(item["Protocol"], item["Endpoint"]) for item in subscriptions] == [("email", "ops@example.com")]


def check_kms(aws, new):
    kms = aws("kms")
    (alias,) = [item for item in kms.list_aliases()["Aliases"] if item["AliasName"] == new["alias/rec-app-key"]]
    assert kms.get_key_rotation_status(KeyId=alias["TargetKeyId"])["KeyRotationEnabled"]
    assert kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Description"] == "pysynth scenario key"


def check_ssm(aws, new):
    ssm, name = aws("ssm"), new["/rec/db/host"]
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "new-db.internal"
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert tags == [{"Key": "team", "Value": "platform"}]


def check_logs(aws, new):
    logs, group = aws("logs"), new["/rec/app"]
    (found,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert found["retentionInDays"] == 30
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [stream["logStreamName"] for stream in streams] == [new["rec-stream"]]


def check_secret(aws, new):
    secrets, name = aws("secretsmanager"), new["rec/app/token"]
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "n3w-s3cr3t"
    assert secrets.describe_secret(SecretId=name)["Tags"] == [{"Key": "team", "Value": "platform"}]


@dataclass
class Scenario:
    script: str
    options: dict[str, str]  # the scenario script's options for the recording
    calls: list[str]  # every API call it makes, in order
    renamed: dict[str, str]  # recorded value -> the value the rerun gives the runbook for it
    check: Callable  # (aws, renamed) -> None: the emulator's state after the rerun
    hidden: list[tuple[str, str]] = field(default_factory=list)  # (eventName, member path) CloudTrail would hide
    secrets: dict[str, str] = field(default_factory=dict)  # secret input name -> the rerun's value
    files: dict[str, bytes] = field(default_factory=dict)  # file input name -> the rerun's file content
    environment: dict[str, str] = field(default_factory=dict)  # for the recording
    private: tuple[str, ...] = ()  # texts the recording sent that the trace must not show
    bash: str | None = None  # "render", or "run" the bash rendering too
    waits: list[str] = field(default_factory=list)  # the waiters the runbook waits with, in order
    read_steps: list[str] = field(default_factory=list)  # the recorded reads the runbook makes for their values
    # (aws, phase, values) -> None: what must exist before "record" and before each "rerun", values
    # mapping each recorded value to the phase's own (renamed).
    setup: Callable | None = None

    @property
    def id(self) -> str:
        return self.script


SCENARIO_LIST = [
    Scenario(
        "s3_bucket_object", {"--bucket": "rec-object-bucket", "--key": "rec/notes.txt"},
        ["CreateBucket", "PutObject", "HeadObject"],
        {"rec-object-bucket": "new-object-bucket", "rec/notes.txt": "new/notes.txt"}, check_s3_object,
        files={"Body": NEW_OBJECT_BODY},
    ),
    Scenario(
        "s3_bucket_hardening", {"--bucket": "rec-hardened-bucket", "--owner": "alice"},
        ["CreateBucket", "PutBucketVersioning", "PutBucketEncryption", "PutPublicAccessBlock", "PutBucketTagging",
         "GetBucketVersioning"],
        {"rec-hardened-bucket": "new-hardened-bucket"}, check_s3_hardening, bash="run",
    ),
    Scenario(
        "ec2_instance_tagged", {"--name": "rec-web"}, ["RunInstances", "DescribeInstances", "CreateTags"],
        {"ami-1e749f67": "ami-03cf127a"}, check_ec2_tagged, waits=["InstanceRunning"],
    ),
    Scenario(
        "ec2_instance_resized", {"--name": "rec-resize"},
        ["DescribeInstances", "StopInstances", "DescribeInstances", "ModifyInstanceAttribute", "StartInstances"],
        {}, check_ec2_resized, bash="run", waits=["InstanceStopped"], read_steps=["DescribeInstances"],
        setup=tag_running_instance,
    ),
    Scenario(
        "ec2_stop_start", {"--name": "rec-stop-start"},
        ["RunInstances", "DescribeInstances", "StopInstances", "DescribeInstances", "StartInstances",
         "DescribeInstances"],
        {"ami-1e749f67": "ami-1812c061"}, check_ec2_stop_start, bash="render", waits=["InstanceRunning", "InstanceStopped"],
    ),
    Scenario(
        "ec2_volume_snapshot", {"--name": "rec-volume"},
        ["CreateVolume", "DescribeVolumes", "CreateTags", "CreateSnapshot", "DescribeSnapshots"],
        {}, check_volume_snapshot, waits=["VolumeAvailable"],
    ),
    Scenario(
        "iam_role_instance_profile",
        {"--role": "rec-app-role", "--profile": "rec-app-profile", "--policy": "rec-read-logs"},
        ["CreateRole", "CreatePolicy", "AttachRolePolicy", "CreateInstanceProfile", "AddRoleToInstanceProfile",
         "GetInstanceProfile"],
        {"rec-app-role": "new-app-role", "rec-app-profile": "new-app-profile", "rec-read-logs": "new-read-logs"},
        check_iam_role, bash="render",
    ),
    Scenario(
        "iam_user_onboarding", {"--user": "rec-alice", "--group": "rec-readers", "--policy": "rec-list-buckets"},
        ["GetCallerIdentity", "CreatePolicy", "CreateUser", "CreateGroup", "AttachGroupPolicy", "AddUserToGroup",
         "CreateLoginProfile", "CreateAccessKey"],
        {"rec-alice": "new-alice", "rec-readers": "new-readers", "rec-list-buckets": "new-list-buckets"},
        check_iam_user,
        hidden=[("CreateLoginProfile", "requestParameters.Password"),
                ("CreateAccessKey", "responseElements.AccessKey.SecretAccessKey")],
        secrets={"Password": "N3w-Passw0rd!"}, environment={"INITIAL_PASSWORD": "Rec0rded-Passw0rd!"},
    ),
    Scenario(
        "dynamodb_table_item", {"--table": "rec-orders", "--item-id": "rec-order-1"},
        ["CreateTable", "DescribeTable", "PutItem", "DescribeTable"],
        {"rec-orders": "new-orders"}, check_dynamodb, bash="run", waits=["TableExists"],
    ),
    Scenario(
        "dynamodb_item_moved", {"--source": "rec-source", "--target": "rec-target", "--id": "rec-item-1"},
        ["GetItem", "PutItem", "DeleteItem"],
        {"rec-source": "new-source", "rec-target": "new-target", "rec-item-1": "new-item-2"}, check_item_moved,
        bash="run", read_steps=["GetItem"], setup=tables_with_an_item,
    ),
    Scenario(
        "sqs_queue", {"--queue": "rec-jobs"},
        ["CreateQueue", "GetQueueAttributes", "CreateQueue", "SetQueueAttributes", "TagQueue"],
        {"rec-jobs-dlq": "new-jobs-dlq", "rec-jobs": "new-jobs"}, check_sqs, bash="render",
    ),
    Scenario(
        "sns_topic_subscription", {"--topic": "rec-alerts", "--email": "ops@example.com"},
        ["CreateTopic", "SetTopicAttributes", "Subscribe"],
        {"rec-alerts": "new-alerts"}, check_sns,
    ),
    Scenario(
        "kms_key_alias", {"--alias": "rec-app-key"}, ["CreateKey", "CreateAlias", "EnableKeyRotation"],
        {"alias/rec-app-key": "alias/new-app-key"}, check_kms, bash="render",
    ),
    Scenario(
        "ssm_parameter", {"--name": "/rec/db/host", "--value": "rec-db.internal"},
        ["PutParameter", "AddTagsToResource", "GetParameter"],
        {"/rec/db/host": "/new/db/host"}, check_ssm,
        hidden=[("PutParameter", "requestParameters.Value"), ("GetParameter", "responseElements.Parameter.Value")],
        secrets={"Value": "new-db.internal"}, private=("rec-db.internal",),
    ),
    Scenario(
        "logs_group_retention", {"--group": "/rec/app", "--stream": "rec-stream"},
        ["CreateLogGroup", "PutRetentionPolicy", "CreateLogStream", "DescribeLogGroups"],
        {"/rec/app": "/new/app", "rec-stream": "new-stream"}, check_logs, bash="render",
    ),
    Scenario(
        "secretsmanager_secret", {"--name": "rec/app/token"}, ["CreateSecret", "TagResource", "GetSecretValue"],
        {"rec/app/token": "new/app/token"}, check_secret,
        hidden=[("CreateSecret", "requestParameters.SecretString"),
                ("GetSecretValue", "responseElements.SecretString")],
        secrets={"SecretString": "n3w-s3cr3t"}, environment={"SECRET_VALUE": "rec0rded-s3cr3t"},
    ),
]


def run_runbook(command: list[str], secrets: dict[str, str]) -> subprocess.CompletedProcess:
    # The runbook's secrets come from the environment; without a terminal it can never wait for input.
    environment = {**os.environ, **MOTO_ENVIRONMENT, **secrets}
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    return subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )


def rerun_arguments(model: dict, scenario: Scenario, renamed: dict[str, str],
                    folder: Path) -> tuple[list[str], dict[str, str]]:
    """The runbook's options for the new values and files, and the environment for its secrets."""
    arguments, used = [], set()
    assert {item["name"] for item in model["inputs"] if item.get("file")} == set(scenario.files)
    for name, content in scenario.files.items():
        (folder / name).write_bytes(content)
        arguments += [option_name(name), str(folder / name)]
    if any(output.get("secret") for step in model["steps"] for output in step["outputs"]):
        # A new file each run: the scripts never write secrets into an existing one.
        arguments += ["--secrets-file", str(folder / f"secrets-{len(list(folder.glob('secrets-*')))}.json")]
    for item in model["inputs"]:
        if not item["secret"] and item["default"] in renamed:
            arguments += [option_name(item["name"]), renamed[item["default"]]]
            used.add(item["default"])
    missing = set(renamed) - used
    assert not missing, f"no runbook input holds {sorted(missing)}; inputs: {model['inputs']}"
    secret_inputs = {item["name"] for item in model["inputs"] if item["secret"]}
    assert secret_inputs == set(scenario.secrets)
    return arguments, {environment_name(name): value for name, value in scenario.secrets.items()}


@pytest.mark.parametrize("scenario", SCENARIO_LIST, ids=lambda scenario: scenario.id)
def test_scenario_record_synth_verify_rerun(scenario, moto_server, record, aws, tmp_path, monkeypatch):
    for variable, value in scenario.environment.items():
        monkeypatch.setenv(variable, value)
    if scenario.setup:
        scenario.setup(aws, "record", {value: value for value in scenario.renamed})
    result, records = record(*scenario_command(moto_server, scenario.script, scenario.options))
    assert result.code == 0, result.stderr

    # One record per call, in order, each complete, with the full response of every call that has one.
    assert names(records) == scenario.calls
    trace = str(tmp_path / "trace.json")
    events = run_cli("events", "--json", trace).json_lines()
    for item, event in zip(records, events, strict=True):
        assert TRACE_KEYS <= set(item), item["eventName"]
        assert item["userIdentity"]["arn"] == RECORDER_ARN and item["userAgent"] == "pysynth-record"
        assert "errorCode" not in item
        output = MODELS.get_service_model(event["service"]).operation_model(event["operation"]).output_shape
        if (item["readOnly"] or item["eventName"].startswith("Create")) and output and output.members:
            assert item["responseElements"], item["eventName"]
    times = [datetime.fromisoformat(item["eventTime"].replace("Z", "+00:00")) for item in records]
    assert times == sorted(set(times))
    trace_text = json.dumps(records)
    for event_name, path in scenario.hidden:
        (item,) = [item for item in records if item["eventName"] == event_name]
        assert leaf(item, path) == HIDDEN
    for secret in (*scenario.environment.values(), *scenario.private):
        assert secret not in trace_text

    # Every record maps onto botocore's model; only the reads are left out of the runbook.
    assert [event["status"] == "kept" for event in events] == [not item["readOnly"] for item in records]
    assert all(event["service"] for event in events)

    # Synthesis, and verification of the SSM runbook against the trace.
    result = run_cli("synth", trace, "--format", "json")
    assert result.code == 0, result.stderr
    model = json.loads(result.stdout)
    # Real AWS is eventually consistent: the runbook waits where the script waited for a state a
    # later call needed, and makes the reads whose responses it takes values from.
    assert [step["wait"]["waiter"] for step in model["steps"] if step.get("wait")] == scenario.waits
    assert [step["api"] for step in model["steps"]
            if Normalizer.is_read_only(step["service"], step["api"]) and not step.get("wait")] == scenario.read_steps
    runbook = tmp_path / "runbook.yaml"
    result = run_cli("synth", trace, "--format", "ssm", "-o", str(runbook))
    assert result.code == 0, result.stderr
    result = run_cli("verify", str(runbook), trace)
    assert result.code == 0, result.stdout + result.stderr
    script = tmp_path / "runbook.py"
    result = run_cli("synth", trace, "--format", "python", "-o", str(script))
    assert result.code == 0, result.stderr

    # The python runbook, run with new values, makes the same things again under the new names.
    if scenario.setup:
        scenario.setup(aws, "rerun", scenario.renamed)
    arguments, secrets = rerun_arguments(model, scenario, scenario.renamed, tmp_path)
    done = run_runbook([sys.executable, str(script), "--endpoint-url", moto_server, *arguments], secrets)
    assert done.returncode == 0, done.stderr
    for secret in scenario.secrets.values():
        assert secret not in done.stdout + done.stderr
    scenario.check(aws, scenario.renamed)

    if scenario.bash:
        shell = tmp_path / "runbook.sh"
        result = run_cli("synth", trace, "--format", "bash", "-o", str(shell))
        assert result.code == 0, result.stderr
    if scenario.bash == "run":
        renamed = {old: f"{new}-sh" for old, new in scenario.renamed.items()}
        arguments, secrets = rerun_arguments(model, scenario, renamed, tmp_path)
        if scenario.setup:
            scenario.setup(aws, "rerun", renamed)
        done = run_runbook(["bash", str(shell), "--endpoint-url", moto_server, *arguments], secrets)
        assert done.returncode == 0, done.stderr
        scenario.check(aws, renamed)


def test_at_least_ten_scenarios_each_with_a_script():
    from test_demo_scenarios import SCENARIO_LIST as DEMO_SCENARIOS
    from test_loop_scenarios import SCENARIO_LIST as LOOP_SCENARIOS

    # scenario_noise is the scripts' shared noise (--noise), not a scenario.
    scripts = {path.stem for path in SCENARIOS.glob("*.py")} - {"scenario_noise"}
    assert len(SCENARIO_LIST) >= 10
    # Every script is a scenario here, a loop scenario (tests/test_loop_scenarios.py) or one of
    # several demonstrations (tests/test_demo_scenarios.py).
    assert {scenario.script for scenario in [*SCENARIO_LIST, *LOOP_SCENARIOS, *DEMO_SCENARIOS]} == scripts


# --------------------------------------------------------------------------- the recorder itself


def write_script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "session.py"
    script.write_text("import sys\n\nimport boto3\n\nURL = sys.argv[1]\n" + body)
    return script


def test_aws_cli_commands_are_recorded_and_replayed(moto_server, record, aws, tmp_path):
    result, records = record("aws", "--endpoint-url", moto_server, "iam", "create-user", "--user-name", "rec-cli-user")
    assert result.code == 0, result.stderr
    assert '"UserName": "rec-cli-user"' in result.stdout  # the CLI's own output
    (item,) = records
    assert (item["eventSource"], item["eventName"]) == ("iam.amazonaws.com", "CreateUser")
    assert item["requestParameters"] == {"UserName": "rec-cli-user"}
    assert item["responseElements"]["User"]["Arn"] == "arn:aws:iam::123456789012:user/rec-cli-user"

    script = tmp_path / "runbook.py"
    assert run_cli("synth", str(tmp_path / "trace.json"), "--format", "python", "-o", str(script)).code == 0
    done = run_runbook([sys.executable, str(script), "--endpoint-url", moto_server, "--user-name", "new-cli-user"], {})
    assert done.returncode == 0, done.stderr
    assert aws("iam").get_user(UserName="new-cli-user")["User"]["UserName"] == "new-cli-user"


def test_a_failing_program_keeps_its_exit_code_and_its_trace(moto_server, record, tmp_path):
    script = write_script(tmp_path, (
        "iam = boto3.client('iam', endpoint_url=URL)\n"
        "iam.create_user(UserName='rec-failing')\n"
        "iam.get_user(UserName='nobody-at-all')\n"
    ))
    result, records = record("python", str(script), moto_server)
    assert result.code == 1
    assert "NoSuchEntity" in result.stderr and "Traceback" in result.stderr
    assert names(records) == ["CreateUser", "GetUser"]
    assert records[1]["errorCode"] == "NoSuchEntity" and records[1]["responseElements"] is None
    assert "nobody-at-all" in records[1]["errorMessage"]
    reasons = [event["reason"] for event in run_cli("events", "--json", str(tmp_path / "trace.json")).json_lines()]
    assert reasons == [None, "failed call (NoSuchEntity)"]


def test_the_exit_code_is_the_programs(moto_server, record, tmp_path):
    script = write_script(tmp_path, "boto3.client('sqs', endpoint_url=URL).create_queue(QueueName='rec-exit')\nsys.exit(3)\n")
    result, records = record("python", str(script), moto_server)
    assert result.code == 3
    assert names(records) == ["CreateQueue"]
    assert "recorded 1 AWS call " in result.stderr


def test_a_trace_on_stdout_is_kept_apart_from_the_programs_output(moto_server, tmp_path):
    script = write_script(tmp_path, "boto3.client('sns', endpoint_url=URL).create_topic(Name='rec-stdout')\nprint('hello')\n")
    result = run_cli("record", "-o", "-", "--", "python", str(script), moto_server)
    assert result.code == 0
    (item,) = json.loads(result.stdout)["Records"]
    assert item["eventName"] == "CreateTopic"
    assert "hello" in result.stderr


def test_streaming_bodies_are_left_to_the_program(moto_server, record, tmp_path):
    script = write_script(tmp_path, (
        "s3 = boto3.client('s3', endpoint_url=URL)\n"
        "s3.create_bucket(Bucket='rec-streams')\n"
        "s3.put_object(Bucket='rec-streams', Key='k', Body=b'payload bytes')\n"
        "print(s3.get_object(Bucket='rec-streams', Key='k')['Body'].read().decode())\n"
    ))
    result, records = record("python", str(script), moto_server)
    assert result.code == 0, result.stderr
    assert "payload bytes" in result.stdout  # the program still read the whole body
    put, get = records[1], records[2]
    assert "Body" not in put["requestParameters"] and "Body" not in get["responseElements"]
    assert put["additionalEventData"]["notRecorded"] == ["requestParameters.Body (streaming body, not read)"]
    assert get["additionalEventData"]["notRecorded"] == ["responseElements.Body (streaming body, not read)"]
    assert get["responseElements"]["ContentLength"] == len(b"payload bytes")
    assert "payload bytes" not in json.dumps(records)


def test_parameters_are_recorded_in_the_models_form(moto_server, record, tmp_path):
    """Values the program passed in a form botocore or boto3 rebuilds are recorded as built; values
    that already fit the model, as passed (a replay redoes the rewrite); members botocore adds
    (idempotency tokens) are kept."""
    script = write_script(tmp_path, (
        "from boto3.dynamodb.conditions import Key\n"
        "dynamodb = boto3.client('dynamodb', endpoint_url=URL)\n"
        "dynamodb.create_table(TableName='rec-models', BillingMode='PAY_PER_REQUEST',\n"
        "    AttributeDefinitions=[{'AttributeName': 'id', 'AttributeType': 'S'}],\n"
        "    KeySchema=[{'AttributeName': 'id', 'KeyType': 'HASH'}])\n"
        "table = boto3.resource('dynamodb', endpoint_url=URL).Table('rec-models')\n"
        "table.put_item(Item={'id': 'a', 'count': 3, 'tags': ['x']})\n"
        "table.query(KeyConditionExpression=Key('id').eq('a'))\n"
        "s3 = boto3.client('s3', endpoint_url=URL)\n"
        "s3.create_bucket(Bucket='rec-models')\n"
        "s3.put_object(Bucket='rec-models', Key='a', Body=b'a')\n"
        "s3.copy_object(Bucket='rec-models', Key='b', CopySource={'Bucket': 'rec-models', 'Key': 'a'})\n"
        "route53 = boto3.client('route53', endpoint_url=URL)\n"
        "zone = route53.create_hosted_zone(Name='rec.example.com', CallerReference='rec')['HostedZone']['Id']\n"
        "route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={'Changes': [{'Action': 'CREATE',\n"
        "    'ResourceRecordSet': {'Name': 'www.rec.example.com', 'Type': 'A', 'TTL': 60,\n"
        "                          'ResourceRecords': [{'Value': '192.0.2.1'}]}}]})\n"
        "boto3.client('ec2', endpoint_url=URL).run_instances(ImageId='ami-1e749f67', MinCount=1, MaxCount=1)\n"
    ))
    result, records = record("python", str(script), moto_server)
    assert result.code == 0, result.stderr
    by_name = {item["eventName"]: item["requestParameters"] for item in records}
    assert by_name["PutItem"]["Item"] == {"id": {"S": "a"}, "count": {"N": "3"}, "tags": {"L": [{"S": "x"}]}}
    query = by_name["Query"]
    assert query["KeyConditionExpression"] == "#n0 = :v0"
    assert query["ExpressionAttributeNames"] == {"#n0": "id"}
    assert query["ExpressionAttributeValues"] == {":v0": {"S": "a"}}
    assert by_name["CopyObject"]["CopySource"] == "rec-models/a"
    zone = next(item for item in records if item["eventName"] == "CreateHostedZone")["responseElements"]
    assert zone["HostedZone"]["Id"].startswith("/hostedzone/")
    assert by_name["ChangeResourceRecordSets"]["HostedZoneId"] == zone["HostedZone"]["Id"]  # as passed
    assert by_name["RunInstances"]["ClientToken"]  # botocore's idempotency token
    # Responses too are in the model's form, not in the one boto3's DynamoDB resource turns them into.
    assert next(item for item in records if item["eventName"] == "Query")["responseElements"]["Items"] == [
        {"id": {"S": "a"}, "count": {"N": "3"}, "tags": {"L": [{"S": "x"}]}}
    ]
    events = run_cli("events", "--json", str(tmp_path / "trace.json")).json_lines()
    assert all(event["service"] for event in events)
    assert [event["notes"] for event in events if event["service"] == "dynamodb"] == [[], [], []]


def test_the_account_comes_from_the_session_unless_given(moto_server, record, tmp_path):
    script = write_script(tmp_path, "boto3.client('logs', endpoint_url=URL).create_log_group(logGroupName='/rec/acct')\n")
    _, records = record("python", str(script), moto_server)
    assert records[0]["userIdentity"]["accountId"] == "123456789012"  # moto's, from sts get-caller-identity
    trace = tmp_path / "given.json"
    result = run_cli("record", "-o", str(trace), "--account-id", "111122223333", "--", "python", str(script), moto_server)
    assert result.code == 1  # the log group exists now
    (item,) = json.loads(trace.read_text())["Records"]
    assert item["errorCode"] == "ResourceAlreadyExistsException"
    assert item["userIdentity"]["arn"] == "arn:aws:iam::111122223333:user/pysynth-recorder"
    assert item["recipientAccountId"] == "111122223333"


@pytest.mark.parametrize(
    "command, message",
    [
        ([], "nothing to record"),
        (["ls", "-l"], "cannot record 'ls'"),
        (["python"], "only python SCRIPT.py ARGS"),
        (["python", "-c", "print(1)"], "only python SCRIPT.py ARGS"),
        (["python", "no-such-script.py"], "no script no-such-script.py"),
    ],
)
def test_only_python_scripts_and_the_aws_cli_can_be_recorded(command, message, tmp_path):
    result = run_cli("record", "-o", str(tmp_path / "trace.json"), "--", *command)
    assert result.code == 2
    assert message in result.stderr
    assert not (tmp_path / "trace.json").exists()


def test_an_unwritable_trace_is_refused_before_the_program_runs(tmp_path):
    script = tmp_path / "session.py"
    script.write_text("raise SystemExit('must not run')\n")
    result = run_cli("record", "-o", str(tmp_path / "missing" / "trace.json"), "--", "python", str(script))
    assert result.code == 2 and "no directory" in result.stderr and "must not run" not in result.stderr


def test_the_installed_command_records_a_scenario(moto_server, tmp_path):
    trace = tmp_path / "trace.json"
    command = scenario_command(moto_server, "s3_bucket_object", {"--bucket": "rec-process-bucket", "--key": "k"})
    done = run_process("record", "-o", str(trace), "--", *command)
    assert done.code == 0, done.stderr
    assert "s3://rec-process-bucket/k: 18 bytes" in done.stdout
    assert names(json.loads(trace.read_text())["Records"]) == ["CreateBucket", "PutObject", "HeadObject"]
