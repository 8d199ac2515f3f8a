"""Values the log never shows: hidden and never-logged request members become inputs of the right
type (secret text, secret JSON, a file), verify rejects a runbook that leaves one out, and the
secrets a step creates are kept in a file only the user can read. Remote-execution logs (ssm
SendCommand, ec2 ModifyInstanceAttribute's UserData) synthesize in every format and run on moto.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest

from conftest import make_record, one_demonstration, run_cli, write_log
from moto_server import MOTO_ENVIRONMENT, REGION, moto_server  # noqa: F401 - the module's moto server
from pysynth.ingest.select import Selection, ingest
from pysynth.model import InputRef, runbook_from_json, runbook_to_json
from pysynth.synth import synthesize
from pysynth.verify import verify

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
MERGED = "invictus_aws_dataset_merged_sorted.json"
PANTHER = "panther_cloudtrail_rule_test_events.json"
RUN_SECONDS = 300


def kept(path):
    return ingest([str(path)], Selection(all_principals=True)).kept


def runbook_of(tmp_path, *records):
    log = write_log(tmp_path / "log.json", list(records))
    return log, synthesize(kept(log)).runbooks[0]


def send_command(instance="i-0dbc91f429e48eeed"):
    return make_record(
        "SendCommand", source="ssm.amazonaws.com",
        request={"instanceIds": [instance], "documentName": "AWS-RunShellScript", "parameters": HIDDEN,
                 "interactive": False},
        response={"command": {"commandId": "bbf52fc0-1a25-4020-b1b4-1872ff8edd12", "documentName": "AWS-RunShellScript"}})


def user_data(instance="i-0123456789abcdef0"):
    return make_record("ModifyInstanceAttribute", source="ec2.amazonaws.com",
                       request={"instanceId": instance, "userData": "<sensitiveDataRemoved>"},
                       response={"_return": True})


def update_function_code(**request):
    return make_record("UpdateFunctionCode20150331v2", source="lambda.amazonaws.com",
                       request={"functionName": "production-api", **request},
                       response={"functionName": "production-api"})


def put_object():
    return make_record("PutObject", source="s3.amazonaws.com",
                       request={"bucketName": "my-company-bucket", "key": "reports/q3.txt",
                                "Host": "my-company-bucket.s3.eu-west-1.amazonaws.com"})


def update_login_profile():
    return make_record("UpdateLoginProfile", request={"passwordResetRequired": False, "userName": "dora"})


def create_access_key():
    return make_record("CreateAccessKey", request={"userName": "dora"}, response={"accessKey": {
        "userName": "dora", "accessKeyId": "AKIATFQR7NSCQLA2F4OD", "status": "Active",
        "createDate": "Jul 10, 2023 12:24:50 PM"}})


# --------------------------------------------------------------------------- inputs of the right type


def test_a_password_cloudtrail_never_logs_becomes_a_secret_input(tmp_path):
    _, runbook = runbook_of(tmp_path, update_login_profile())
    step = runbook.steps[0]
    assert step.request["Password"] == InputRef("Password")
    password = runbook.input("Password")
    assert (password.type, password.secret, password.default, password.file) == ("String", True, None, False)


def test_a_whole_hidden_map_becomes_a_secret_string_map(tmp_path):
    _, runbook = runbook_of(tmp_path, send_command())
    parameters = runbook.input("Parameters")
    assert (parameters.type, parameters.secret, parameters.default) == ("StringMap", True, None)
    assert runbook.steps[0].request["Parameters"] == InputRef("Parameters")


def test_user_data_hidden_as_a_whole_structure_is_its_binary_value(tmp_path):
    _, runbook = runbook_of(tmp_path, user_data())
    assert runbook.steps[0].request["UserData"] == {"Value": InputRef("UserDataValue")}
    value = runbook.input("UserDataValue")
    assert (value.type, value.file, value.secret, value.default) == ("String", True, False, None)


def test_code_sent_as_a_zip_file_is_a_file_input_but_code_from_s3_is_not(tmp_path):
    _, runbook = runbook_of(tmp_path, update_function_code(publish=True, dryRun=False))
    assert runbook.steps[0].request["ZipFile"] == InputRef("ZipFile") and runbook.input("ZipFile").file
    _, from_s3 = runbook_of(tmp_path, update_function_code(publish=True, s3Bucket="code-bucket", s3Key="fn.zip"))
    assert "ZipFile" not in from_s3.steps[0].request
    assert not any(item.file or item.secret for item in from_s3.inputs)


def test_an_object_body_is_a_file_input_and_optional_encryption_keys_are_not(tmp_path):
    _, runbook = runbook_of(tmp_path, put_object())
    assert [(item.name, item.file) for item in runbook.inputs] == [("Bucket", False), ("Key", False), ("Body", True)]
    assert "SSECustomerKey" not in runbook.steps[0].request


def test_a_secret_value_put_without_its_value_in_the_log_takes_secret_text(tmp_path):
    record = make_record("PutSecretValue", source="secretsmanager.amazonaws.com",
                         request={"secretId": "db-password", "clientRequestToken": "EFADA32A-134C-40A6-880A-6C1421FFD45F"})
    _, runbook = runbook_of(tmp_path, record)
    assert runbook.steps[0].request["SecretString"] == InputRef("SecretString")
    assert "SecretBinary" not in runbook.steps[0].request and runbook.input("SecretString").secret


def test_a_modification_that_shows_its_content_asks_for_no_secret(tmp_path):
    record = make_record("ModifyDBInstance", source="rds.amazonaws.com", request={
        "dBInstanceIdentifier": "production-db", "publiclyAccessible": True, "applyImmediately": True})
    _, runbook = runbook_of(tmp_path, record)
    assert not any(item.secret or item.file for item in runbook.inputs)


# --------------------------------------------------------------------------- every format, and verify


@pytest.mark.parametrize("fmt", ["ssm", "bash", "python", "json"])
def test_remote_execution_logs_synthesize_in_every_format(tmp_path, fmt):
    log = write_log(tmp_path / "remote.json", [send_command(), user_data()])
    result = run_cli("synth", "--format", fmt, str(log))
    assert result.code == 0, result.stderr
    assert HIDDEN not in result.stdout and "sensitiveDataRemoved" not in result.stdout


@pytest.mark.parametrize("fmt", ["ssm", "bash", "python"])
def test_the_shared_remote_execution_records_synthesize(shared, tmp_path, fmt):
    """SendCommand from the stratus-red-team run and panther's, and panther's UserData change."""
    merged = json.loads((shared / MERGED).read_text())["Records"]
    panther = json.loads((shared / PANTHER).read_text())
    records = [record for record in merged + panther
               if record.get("eventName") in ("SendCommand", "ModifyInstanceAttribute")
               and not record.get("errorCode") and "userData" in json.dumps(record.get("requestParameters"))
               or record.get("eventName") == "SendCommand" and not record.get("errorCode")]
    assert len(records) >= 5
    for number, record in enumerate(records):
        log = write_log(tmp_path / f"remote-{number}.json", [record])
        result = run_cli("synth", "--format", fmt, "--all-principals", str(log))
        assert result.code == 0, f"{record['eventName']}: {result.stderr}"


def test_ssm_refuses_a_deployment_package_and_names_the_s3_alternative(tmp_path):
    log = write_log(tmp_path / "code.json", [update_function_code(publish=True)])
    result = run_cli("synth", str(log))
    assert result.code == 4
    assert "UpdateFunctionCode.ZipFile" in result.stderr and "S3Bucket, S3Key" in result.stderr
    assert run_cli("synth", "--format", "python", str(log)).code == 0


def test_verify_rejects_a_runbook_that_omits_a_never_logged_value(tmp_path):
    log, runbook = runbook_of(tmp_path, update_login_profile(), send_command())
    assert verify(runbook, one_demonstration(kept(log))).certified
    document = runbook_to_json(runbook)
    document["inputs"] = [item for item in document["inputs"] if item["name"] not in ("Password", "Parameters")]
    for step in document["steps"]:
        step["request"].pop("Password", None)
        step["request"].pop("Parameters", None)
    verdict = verify(runbook_from_json(document), one_demonstration(kept(log)))
    assert sorted((problem.kind, problem.path) for problem in verdict.problems) == [
        ("omitted-value", "Parameters"), ("omitted-value", "Password")]
    path = tmp_path / "omitted.json"
    path.write_text(json.dumps(document))
    result = run_cli("verify", str(path), str(log))
    assert result.code == 5 and "never logs it, and iam UpdateLoginProfile needs it" in result.stdout + result.stderr


def test_the_ssm_document_keeps_no_created_secret(tmp_path):
    log = write_log(tmp_path / "key.json", [create_access_key()])
    ssm = run_cli("synth", str(log))
    assert ssm.code == 0, ssm.stderr
    assert "SecretAccessKey" not in ssm.stdout.split("mainSteps:")[1].split("description:")[0]
    assert "Selector: \"$.AccessKey.AccessKeyId\"" in ssm.stdout
    assert "execution history" in ssm.stdout
    model = json.loads(run_cli("synth", "--format", "json", str(log)).stdout)
    assert {"name": "SecretAccessKey", "selector": "$.AccessKey.SecretAccessKey", "type": "String",
            "path": "AccessKey.SecretAccessKey", "secret": True} in model["steps"][0]["outputs"]


# --------------------------------------------------------------------------- on the emulator


def run_script(script: Path, endpoint: str, *arguments: str, **environment: str):
    command = ["bash", str(script)] if script.suffix == ".sh" else [sys.executable, str(script)]
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYSYNTH_"))}
    env.update(MOTO_ENVIRONMENT, **environment)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([*command, *arguments, "--endpoint-url", endpoint], capture_output=True, text=True,
                          env=env, timeout=RUN_SECONDS, stdin=subprocess.DEVNULL, check=False)


def rendered(tmp_path: Path, log: Path, fmt: str) -> Path:
    result = run_cli("synth", "--format", fmt, str(log))
    assert result.code == 0, result.stderr
    script = tmp_path / ("runbook.sh" if fmt == "bash" else "runbook.py")
    script.write_text(result.stdout)
    return script


def reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()


@pytest.mark.parametrize("fmt", ["bash", "python"])
def test_scripts_keep_a_created_secret_key_in_a_private_file(moto_server, tmp_path, fmt):  # noqa: F811
    reset(moto_server)
    iam = boto3.client("iam", endpoint_url=moto_server, region_name=REGION)
    iam.create_user(UserName="erin")
    script = rendered(tmp_path, write_log(tmp_path / "key.json", [create_access_key()]), fmt)
    secrets = tmp_path / "secrets.json"
    assert run_script(script, moto_server, "--user-name", "erin").returncode != 0  # no file named: refused
    assert not iam.list_access_keys(UserName="erin")["AccessKeyMetadata"]  # ... before any call
    done = run_script(script, moto_server, "--user-name", "erin", "--secrets-file", str(secrets))
    assert done.returncode == 0, done.stderr
    assert secrets.stat().st_mode & 0o777 == 0o600
    secret = json.loads(secrets.read_text())["CreateAccessKey.SecretAccessKey"]
    assert len(secret) == 40 and secret not in done.stdout + done.stderr
    key_id = iam.list_access_keys(UserName="erin")["AccessKeyMetadata"][0]["AccessKeyId"]
    assert json.loads(done.stdout) == {"CreateAccessKey.AccessKeyId": key_id}
    # An existing file is never overwritten: another user might read it.
    again = run_script(script, moto_server, "--user-name", "erin", "--secrets-file", str(secrets))
    assert again.returncode != 0 and json.loads(secrets.read_text())["CreateAccessKey.SecretAccessKey"] == secret


@pytest.mark.parametrize("fmt", ["bash", "python"])
def test_scripts_send_file_inputs_and_secret_maps(moto_server, tmp_path, fmt):  # noqa: F811
    reset(moto_server)
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name=REGION)
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    ssm = boto3.client("ssm", endpoint_url=moto_server, region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    s3.create_bucket(Bucket="reports-bucket")
    log = write_log(tmp_path / "remote.json", [put_object(), user_data(), send_command()])
    script = rendered(tmp_path, log, fmt)
    body = tmp_path / "body.bin"
    body.write_bytes(bytes(range(256)) * 4)  # binary, NULs included: sent as it is
    # ModifyInstanceAttribute takes user data base64-encoded (its documentation says so): the
    # file holds exactly the bytes the call sends.
    script_text = tmp_path / "user-data.b64"
    script_text.write_bytes(base64.b64encode(b"#!/bin/bash\necho 'hello from pysynth' > /tmp/out\n"))
    commands = {"commands": ["uptime", "echo \"it's $HOME\""]}
    done = run_script(
        script, moto_server, "--bucket", "reports-bucket", "--key", "in/q3.bin", "--body", str(body),
        "--instance-id", instance, "--user-data-value", str(script_text), "--instance-ids", json.dumps([instance]),
        PYSYNTH_SECRET_PARAMETERS=json.dumps(commands),
    )
    assert done.returncode == 0, done.stderr
    assert s3.get_object(Bucket="reports-bucket", Key="in/q3.bin")["Body"].read() == body.read_bytes()
    attribute = ec2.describe_instance_attribute(InstanceId=instance, Attribute="userData")["UserData"]["Value"]
    assert attribute.encode() == script_text.read_bytes()
    sent = ssm.list_commands()["Commands"]
    assert [(command["InstanceIds"], command["Parameters"]) for command in sent] == [([instance], commands)]
    assert "uptime" not in done.stdout + done.stderr


def test_an_encryption_rule_that_names_its_algorithm_needs_no_key(tmp_path):
    record = make_record("PutBucketEncryption", source="s3.amazonaws.com", request={
        "bucketName": "logs-bucket", "ServerSideEncryptionConfiguration": {
            "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}}})
    _, runbook = runbook_of(tmp_path, record)
    assert not any(item.secret or item.file for item in runbook.inputs)


def test_the_ssm_rendering_runs_remote_execution_with_secret_inputs(moto_server, tmp_path):  # noqa: F811
    """`pysynth run` with the SSM document: the hidden command parameters as a secret StringMap,
    the user data as secret text (SSM reads no local file), both from the environment."""
    reset(moto_server)
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name=REGION)
    ssm = boto3.client("ssm", endpoint_url=moto_server, region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    log = write_log(tmp_path / "remote.json", [user_data(), send_command()])
    document = tmp_path / "remote.yaml"
    assert run_cli("synth", str(log), "-o", str(document)).code == 0
    commands = {"commands": ["uptime"]}
    user_data_text = base64.b64encode(b"#!/bin/bash\necho hi\n").decode()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYSYNTH_"))}
    env.update(MOTO_ENVIRONMENT, PYSYNTH_SECRET_PARAMETERS=json.dumps(commands),
               PYSYNTH_SECRET_USER_DATA_VALUE=user_data_text)
    done = subprocess.run(
        [sys.executable, "-m", "pysynth", "run", str(document), "--endpoint-url", moto_server,
         "--param", f"InstanceId={instance}", "--param", f"InstanceIds={json.dumps([instance])}"],
        capture_output=True, text=True, env=env, timeout=RUN_SECONDS, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr
    assert ec2.describe_instance_attribute(InstanceId=instance, Attribute="userData")["UserData"]["Value"] == user_data_text
    assert [command["Parameters"] for command in ssm.list_commands()["Commands"]] == [commands]
    assert "uptime" not in done.stdout + done.stderr and user_data_text not in done.stdout + done.stderr


def test_a_created_key_pairs_private_key_is_kept_in_the_secrets_file(moto_server, tmp_path):  # noqa: F811
    reset(moto_server)
    record = make_record("CreateKeyPair", source="ec2.amazonaws.com", request={"keyName": "deploy-key"}, response={
        "keyName": "deploy-key", "keyFingerprint": "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f",
        "keyPairId": "key-0123456789abcdef0", "keyMaterial": "<sensitiveDataRemoved>"})
    script = rendered(tmp_path, write_log(tmp_path / "key-pair.json", [record]), "python")
    secrets = tmp_path / "secrets.json"
    done = run_script(script, moto_server, "--key-name", "ops-key", "--secrets-file", str(secrets))
    assert done.returncode == 0, done.stderr
    material = json.loads(secrets.read_text())["CreateKeyPair.KeyMaterial"]
    assert material.startswith("-----BEGIN") and material not in done.stdout + done.stderr
    assert secrets.stat().st_mode & 0o777 == 0o600
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name=REGION)
    (pair,) = ec2.describe_key_pairs(KeyNames=["ops-key"])["KeyPairs"]
    assert json.loads(done.stdout) == {"CreateKeyPair.KeyPairId": pair["KeyPairId"]}
