"""Recorded loop scenarios (issue 9): each scenario script is recorded on the emulator with
``pysynth record``, synthesized, and verified against its trace; then, in an environment and with
inputs different from the demonstration (other names, other list lengths, other elements matching
the filter), the script itself and each rendering of the runbook (Python, bash, and the SSM
document through ``pysynth run``) run on a reset emulator: every run must leave the state the
script leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from conftest import run_cli
from moto_server import MOTO_ENVIRONMENT, moto_server  # noqa: F401 - the module's fixture
from pysynth.render.names import option_name

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@dataclass
class LoopScenario:
    script: str
    recorded: list[str]  # the script's options for the recording; {name}s come from the environment
    rerun: list[str]  # the script's options for the rerun
    inputs: dict[str, object]  # runbook input -> its value for the rerun ({name}s from the environment)
    environment: Callable  # (aws, phase) -> {name: value}: what exists before the script runs
    state: Callable  # (aws, environment) -> the state a run leaves, comparable between runs
    shape: Callable  # (model) -> None: the runbook's loops, as the demonstration shows them
    # The SSM document's inputs where they differ: SSM nests no loops, so its runbook unrolls one level.
    ssm_inputs: dict[str, object] | None = None

    @property
    def id(self) -> str:
        return self.script


def _steps(model: dict) -> list[dict]:
    found = []
    for step in model["steps"]:
        found.append(step)
        if step.get("loop"):
            found += _steps(step["loop"])
    return found


def _loops(model: dict) -> list[dict]:
    return [step for step in _steps(model) if step["action"] == "aws:loop"]


# -- environments and states ------------------------------------------------------------------


def buckets(names: list[str]):
    def create(aws, phase):
        for name in names[phase]:
            aws("s3").create_bucket(Bucket=name)
        return {}
    return create


def encryption_by_bucket(aws, environment) -> dict:
    s3, state = aws("s3"), {}
    for bucket in s3.list_buckets()["Buckets"]:
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket["Name"])["ServerSideEncryptionConfiguration"]["Rules"]
            state[bucket["Name"]] = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        except aws("s3").exceptions.ClientError:
            state[bucket["Name"]] = None
    return state


def groups(names: dict[str, list[str]], users: dict[str, list[str]] | None = None):
    def create(aws, phase):
        for name in names[phase]:
            aws("iam").create_group(GroupName=name)
        for name in (users or {}).get(phase, ()):
            aws("iam").create_user(UserName=name)
        return {}
    return create


def memberships(aws, environment) -> dict:
    iam = aws("iam")
    return {user["UserName"]: sorted(group["GroupName"] for group in iam.list_groups_for_user(UserName=user["UserName"])["Groups"])
            for user in iam.list_users()["Users"]}


def vpc(aws, phase):
    return {"vpc": aws("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]}


def subnets(aws, environment) -> list:
    found = aws("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [environment["vpc"]]}])["Subnets"]
    # Each run makes its own VPC: tags are compared with its id written as <vpc>.
    return sorted((subnet["CidrBlock"], {tag["Key"]: tag["Value"].replace(environment["vpc"], "<vpc>")
                                         for tag in subnet.get("Tags", [])}) for subnet in found)


def queues(aws, environment) -> dict:
    sqs = aws("sqs")
    return {url.rsplit("/", 1)[1]: sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
            for url in sqs.list_queues().get("QueueUrls", [])}


def existing_queue(aws, phase):
    aws("sqs").create_queue(QueueName="keep-me")  # not the script's: nothing may delete it
    return {}


def queue_timeouts(aws, environment) -> dict:
    sqs = aws("sqs")
    return {url.rsplit("/", 1)[1]: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
            ["Attributes"]["VisibilityTimeout"] for url in sqs.list_queues().get("QueueUrls", [])}


def instances(counts: dict[str, int]):
    def create(aws, phase):
        ec2 = aws("ec2")
        made = ec2.run_instances(ImageId="ami-03cf127a", MinCount=counts[phase], MaxCount=counts[phase])["Instances"]
        ec2.stop_instances(InstanceIds=[made[1]["InstanceId"]])  # one already stopped: the filter leaves it alone
        return {"instances": [instance["InstanceId"] for instance in made]}
    return create


def instance_states(aws, environment) -> list:
    reservations = aws("ec2").describe_instances(InstanceIds=environment["instances"])["Reservations"]
    states = {instance["InstanceId"]: instance["State"]["Name"] for reservation in reservations
              for instance in reservation["Instances"]}
    return [states[instance] for instance in environment["instances"]]


# -- what each runbook must look like ---------------------------------------------------------


def over_listing(condition: str | None):
    def check(model):
        (loop,) = _loops(model)
        listing = model["steps"][0]
        assert listing["api"] == "ListBuckets" and loop["loop"]["over"] == {"$output": ["ListBuckets", listing["outputs"][0]["name"]]}
        assert (listing["outputs"][0].get("where") or {}).get("test") == condition
        assert len(_steps(model)) == 3
    return check


def over_input(name: str, depth: int = 1):
    def check(model):
        loops = _loops(model)
        assert len(loops) == depth and loops[-1]["loop"]["over"] == {"$input": name}
    return check


def over_logged_blocks(model):
    (loop,) = _loops(model)
    assert loop["loop"]["over"] == ["10.0.1.0/24", "10.0.2.0/24"]
    create, tag = loop["loop"]["steps"]
    assert tag["request"]["Resources"] == [{"$output": [create["name"], "SubnetId"]}]
    assert tag["request"]["Tags"][0]["Value"]["$template"][1:] == ["-", {"$index": loop["name"]}]


def over_created_urls(model):
    (loop,) = _loops(model)
    creates = [step["name"] for step in model["steps"] if step["api"] == "CreateQueue"]
    # The queues the runbook created, each by the URL its creation returned; the last one is kept.
    assert loop["loop"]["over"] == [{"$output": [name, "QueueUrl"]} for name in creates[:-1]]
    assert [step["api"] for step in loop["loop"]["steps"]] == ["DeleteQueue"]


def batched(model):
    assert not _loops(model)
    (stop,) = [step for step in model["steps"] if step["api"] == "StopInstances"]
    assert stop["batch"] == "InstanceIds" and "$output" in stop["request"]["InstanceIds"]


SCENARIO_LIST = [
    LoopScenario(
        "s3_buckets_encrypted", [], [], {},
        buckets({"record": ["rec-a", "rec-b", "rec-c"], "rerun": ["new-a", "new-b", "new-c", "new-d", "new-e"]}),
        encryption_by_bucket, over_listing(None),
    ),
    LoopScenario(
        "s3_log_buckets_encrypted", [], [], {},
        buckets({"record": ["data-x", "logs-a", "logs-b", "web-1"],
                 "rerun": ["logs-p", "app-q", "logs-r", "logs-s", "logsx", "zeta"]}),
        encryption_by_bucket, over_listing("prefix"),
    ),
    LoopScenario(
        "iam_user_groups", ["--user", "rec-carol", "--groups", "rec-dev", "rec-ops"],
        ["--user", "new-dave", "--groups", "new-dev", "new-ops", "new-qa"],
        {"UserName": "new-dave", "GroupNames": ["new-dev", "new-ops", "new-qa"]},
        groups({"record": ["rec-dev", "rec-ops"], "rerun": ["new-dev", "new-ops", "new-qa"]}),
        memberships, over_input("GroupNames"),
    ),
    LoopScenario(
        "iam_users_groups_nested", ["--users", "rec-ann", "rec-ben", "--groups", "rec-dev", "rec-ops", "rec-qa"],
        ["--users", "new-cy", "new-di", "new-ed", "--groups", "new-dev", "new-ops", "new-qa"],
        {"UserNames": ["new-cy", "new-di", "new-ed"], "GroupNames": ["new-dev", "new-ops", "new-qa"]},
        groups({"record": ["rec-dev", "rec-ops", "rec-qa"], "rerun": ["new-dev", "new-ops", "new-qa"]},
               {"record": ["rec-ann", "rec-ben"], "rerun": ["new-cy", "new-di", "new-ed"]}),
        memberships, over_input("GroupNames", depth=2),
        ssm_inputs={"UserNames": ["new-cy", "new-di", "new-ed"], "GroupName": "new-dev", "GroupName2": "new-ops",
                    "GroupName3": "new-qa"},
    ),
    LoopScenario(
        "ec2_subnets_tagged", ["--vpc-id", "{vpc}", "--cidrs", "10.0.1.0/24", "10.0.2.0/24"],
        ["--vpc-id", "{vpc}", "--cidrs", "10.0.1.0/24", "10.0.2.0/24"],
        {"VpcId": "{vpc}"}, vpc, subnets, over_logged_blocks,
    ),
    LoopScenario(
        "sqs_app_queues", ["--apps", "rec-web", "rec-billing"], ["--apps", "new-api", "new-auth", "new-cron"],
        {"Apps": ["new-api", "new-auth", "new-cron"]}, lambda aws, phase: {}, queues, over_input("Apps"),
    ),
    LoopScenario(
        "sqs_queues_cleanup", ["--queues", "rec-a", "rec-b", "rec-c", "rec-d"],
        ["--queues", "new-w", "new-x", "new-y", "new-z"],
        {"QueueName": "new-w", "QueueName2": "new-x", "QueueName3": "new-y", "QueueName4": "new-z"},
        existing_queue, queue_timeouts, over_created_urls,
    ),
    LoopScenario(
        "ec2_running_instances_stopped", [], [], {},
        instances({"record": 3, "rerun": 5}), instance_states, batched,
    ),
]


# -- running -------------------------------------------------------------------------------------


@pytest.fixture
def aws(moto_server):  # noqa: F811 - the fixture imported above
    session = boto3.Session(region_name=MOTO_ENVIRONMENT["AWS_REGION"])
    return lambda service: session.client(service, endpoint_url=moto_server)


def reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30).close()


def filled(options: list[str], environment: dict) -> list[str]:
    return [option.format(**environment) for option in options]


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, **MOTO_ENVIRONMENT})
    assert done.returncode == 0, f"{command[:3]}: {done.stdout}\n{done.stderr}"


def option_arguments(inputs: dict[str, object], environment: dict) -> list[str]:
    arguments = []
    for name, value in inputs.items():
        text = json.dumps([item.format(**environment) for item in value]) if isinstance(value, list) else value.format(**environment)
        arguments += [option_name(name), text]
    return arguments


def parameter_arguments(inputs: dict[str, object], environment: dict) -> list[str]:
    arguments = []
    for name, value in inputs.items():
        text = json.dumps([item.format(**environment) for item in value]) if isinstance(value, list) else value.format(**environment)
        arguments += ["--param", f"{name}={text}"]
    return arguments


@pytest.mark.parametrize("scenario", SCENARIO_LIST, ids=lambda scenario: scenario.id)
def test_loop_scenario_reruns_like_its_script(scenario, moto_server, aws, tmp_path):  # noqa: F811
    script = [sys.executable, str(SCENARIOS / f"{scenario.script}.py"), "--endpoint-url", moto_server]

    reset(moto_server)
    environment = scenario.environment(aws, "record")
    trace = tmp_path / "trace.json"
    result = run_cli("record", "-o", str(trace), "--", *script, *filled(scenario.recorded, environment))
    assert result.code == 0, result.stderr

    model_text = run_cli("synth", str(trace), "--format", "json")
    assert model_text.code == 0, model_text.stderr
    model = json.loads(model_text.stdout)
    scenario.shape(model)
    renderings = {}
    for fmt, suffix in (("ssm", "yaml"), ("python", "py"), ("bash", "sh")):
        renderings[fmt] = tmp_path / f"runbook.{suffix}"
        result = run_cli("synth", str(trace), "--format", fmt, "-o", str(renderings[fmt]))
        assert result.code == 0, result.stderr
    result = run_cli("verify", str(renderings["ssm"]), str(trace))
    assert result.code == 0, result.stdout + result.stderr

    assert_reruns_alike(moto_server, aws, lambda env: script + filled(scenario.rerun, env), renderings,
                        scenario.inputs, scenario.ssm_inputs or scenario.inputs, scenario.environment, scenario.state)


def assert_reruns_alike(url: str, aws, script: Callable, renderings: dict[str, Path], inputs: dict, ssm_inputs: dict,
                        environment: Callable, state: Callable) -> None:
    """The script (``script(environment)``: its command) and each rendering run on a reset emulator
    in the rerun's environment, with ``inputs``: each must leave the state the script leaves."""
    states = {}
    runs = {
        "script": script,
        "python": lambda env: [sys.executable, str(renderings["python"]), "--endpoint-url", url,
                               *option_arguments(inputs, env)],
        "bash": lambda env: ["bash", str(renderings["bash"]), "--endpoint-url", url, *option_arguments(inputs, env)],
        "ssm": lambda env: [sys.executable, "-m", "pysynth", "run", str(renderings["ssm"]), "--endpoint-url", url,
                            *parameter_arguments(ssm_inputs, env)],
    }
    for name, command in runs.items():
        reset(url)
        made = environment(aws, "rerun")
        run(command(made))
        states[name] = state(aws, made)
    assert states["script"], "the rerun's environment leaves nothing to compare"
    for name in ("python", "bash", "ssm"):
        assert states[name] == states["script"], name
