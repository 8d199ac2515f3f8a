"""Recorded scenarios of several demonstrations (issue 10): each scenario script is recorded twice on
the emulator with ``pysynth record``, in environments where it went differently (a user that
existed or not, an instance running or stopped, a group given or not, more or fewer buckets), and
synthesized from both (``--demo``); the runbook is verified against both. Then, with a third set of
inputs in a third environment, the script itself and each rendering (Python, bash, the SSM document
through ``pysynth run``) run on a reset emulator, and every run must leave the state the script
leaves. A demonstration recorded with noise (``--noise``: a failed call made again, a throwaway
queue, stray reads) gives the same runbook."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from conftest import run_cli
from moto_server import moto_server  # noqa: F401 - the module's fixture
from test_loop_scenarios import SCENARIOS, assert_reruns_alike, aws, filled, reset  # noqa: F401

BRANCH = "aws:branch"
LOOP = "aws:loop"


@dataclass
class DemoScenario:
    script: str
    phases: dict[str, list[str]]  # "first", "second", "rerun" -> the script's options ({name}s from the environment)
    inputs: dict[str, object]  # runbook input -> its value for the rerun
    environment: Callable  # (aws, phase) -> {name: value}
    state: Callable  # (aws, environment) -> comparable state
    shape: list[str]  # the runbook's top-level steps: actions, branches and loops by their action
    noisy: str | None = None  # the phase recorded once more with --noise

    @property
    def id(self) -> str:
        return self.script


def groups_and_users(groups: list[str], users: dict[str, list[str]]):
    def create(aws, phase):
        for name in groups:
            aws("iam").create_group(GroupName=name)
        for name in users.get(phase, ()):
            aws("iam").create_user(UserName=name)
        return {}
    return create


def users_in_groups(aws, environment) -> dict:
    iam = aws("iam")
    return {user["UserName"]: (sorted(group["GroupName"] for group in iam.list_groups_for_user(UserName=user["UserName"])["Groups"]),
                               sorted((tag["Key"], tag["Value"]) for tag in iam.list_user_tags(UserName=user["UserName"])["Tags"]))
            for user in iam.list_users()["Users"]}


def instance(states: dict[str, str]):
    def create(aws, phase):
        ec2 = aws("ec2")
        made = ec2.run_instances(ImageId="ami-03cf127a", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        if states[phase] == "stopped":
            ec2.stop_instances(InstanceIds=[made])
        return {"instance": made}
    return create


def instance_state(aws, environment) -> tuple:
    found = aws("ec2").describe_instances(InstanceIds=[environment["instance"]])["Reservations"][0]["Instances"][0]
    return found["State"]["Name"], sorted((tag["Key"], tag["Value"]) for tag in found.get("Tags", []))


def housekeeping_environment(buckets: dict[str, list[str]], groups: dict[str, list[str]], users: dict[str, list[str]]):
    def create(aws, phase):
        for name in buckets[phase]:
            aws("s3").create_bucket(Bucket=name)
        return groups_and_users(groups[phase], users)(aws, phase)
    return create


def encryption_and_memberships(aws, environment) -> tuple:
    s3, encrypted = aws("s3"), {}
    for bucket in s3.list_buckets()["Buckets"]:
        try:
            s3.get_bucket_encryption(Bucket=bucket["Name"])
            encrypted[bucket["Name"]] = True
        except s3.exceptions.ClientError:
            encrypted[bucket["Name"]] = False
    return encrypted, users_in_groups(aws, environment)


SCENARIO_LIST = [
    DemoScenario(
        "iam_user_ensured",
        {"first": ["--user", "rec-carol", "--group", "rec-dev"], "second": ["--user", "rec-dave", "--group", "rec-ops"],
         "rerun": ["--user", "new-erin", "--group", "new-qa"]},
        {"UserName": "new-erin", "GroupName": "new-qa"},
        groups_and_users(["rec-dev", "rec-ops", "new-qa"], {"second": ["rec-dave"]}),
        users_in_groups, ["aws:executeAwsApi", BRANCH, "aws:executeAwsApi"], noisy="second",
    ),
    DemoScenario(
        "ec2_instance_stopped_if_running",
        {"first": ["--instance-id", "{instance}"], "second": ["--instance-id", "{instance}"],
         "rerun": ["--instance-id", "{instance}"]},
        {"InstanceIds": ["{instance}"]},
        instance({"first": "running", "second": "stopped", "rerun": "running"}),
        instance_state, ["aws:executeAwsApi", BRANCH, "aws:executeAwsApi"], noisy="first",
    ),
    DemoScenario(
        "iam_user_optional_group",
        {"first": ["--user", "rec-carol", "--group", "rec-dev"], "second": ["--user", "rec-dave"],
         "rerun": ["--user", "new-erin", "--group", "new-qa"]},
        {"UserName": "new-erin", "GroupName": "new-qa"},
        groups_and_users(["rec-dev", "new-qa"], {}),
        users_in_groups, ["aws:executeAwsApi", BRANCH, "aws:executeAwsApi"], noisy="first",
    ),
    DemoScenario(
        "s3_log_buckets_encrypted",
        {"first": [], "second": [], "rerun": []}, {},
        housekeeping_environment({"first": ["logs-a", "logs-b", "logs-c", "web-1"], "second": ["logs-x", "logs-y", "app-1"],
                                  "rerun": ["logs-p", "data-q", "logs-r", "logs-s", "logs-t"]},
                                 {"first": [], "second": [], "rerun": []}, {}),
        encryption_and_memberships, ["aws:executeAwsApi", LOOP], noisy="second",
    ),
    DemoScenario(
        "housekeeping",
        {"first": ["--user", "rec-carol", "--groups", "rec-dev", "rec-ops"],
         "second": ["--user", "rec-dave", "--groups", "rec-ops", "rec-qa", "rec-web"],
         "rerun": ["--user", "new-erin", "--groups", "new-a"]},
        {"UserName": "new-erin", "GroupNames": ["new-a"]},
        housekeeping_environment({"first": ["logs-a", "logs-b", "web-1"], "second": ["logs-x", "logs-y", "logs-z"],
                                  "rerun": ["logs-p", "data-q", "logs-r", "logs-s"]},
                                 {"first": ["rec-dev", "rec-ops"], "second": ["rec-ops", "rec-qa", "rec-web"],
                                  "rerun": ["new-a"]},
                                 {"second": ["rec-dave"]}),
        encryption_and_memberships, ["aws:executeAwsApi", LOOP, "aws:executeAwsApi", BRANCH, LOOP], noisy="second",
    ),
]


def _without_evidence(model: dict) -> dict:
    """The runbook without what names its demonstrations' records (files, times, descriptions) and
    their own values (an input's default: the noisy demonstration ran on another instance)."""
    def strip(value):
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items()
                    if key not in ("records", "description", "solution", "default")}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value
    return strip(model)


@pytest.mark.parametrize("scenario", SCENARIO_LIST, ids=lambda scenario: scenario.id)
def test_two_demonstrations_make_a_runbook_that_reruns_like_its_script(scenario, moto_server, aws, tmp_path):  # noqa: F811
    script = [sys.executable, str(SCENARIOS / f"{scenario.script}.py"), "--endpoint-url", moto_server]
    traces = {}
    for phase in ("first", "second") + (("noisy",) if scenario.noisy else ()):
        options_phase = scenario.noisy if phase == "noisy" else phase
        reset(moto_server)
        environment = scenario.environment(aws, options_phase)
        traces[phase] = tmp_path / f"{phase}.json"
        noise = ["--noise"] if phase == "noisy" else []
        result = run_cli("record", "-o", str(traces[phase]), "--", *script,
                         *filled(scenario.phases[options_phase], environment), *noise)
        assert result.code == 0, result.stderr
    demos = ["--demo", str(traces["first"]), "--demo", str(traces["second"])]

    model_text = run_cli("synth", *demos, "--format", "json")
    assert model_text.code == 0, model_text.stderr
    model = json.loads(model_text.stdout)
    assert [step["action"] for step in model["steps"]] == scenario.shape
    assert model["solution"]["optimal"]
    if scenario.noisy:
        pair = [traces["noisy"], traces["second"]] if scenario.noisy == "first" else [traces["first"], traces["noisy"]]
        noisy = run_cli("synth", "--demo", str(pair[0]), "--demo", str(pair[1]), "--format", "json")
        assert noisy.code == 0, noisy.stderr
        assert _without_evidence(json.loads(noisy.stdout)) == _without_evidence(model)

    renderings = {}
    for fmt, suffix in (("ssm", "yaml"), ("python", "py"), ("bash", "sh")):
        renderings[fmt] = tmp_path / f"runbook.{suffix}"
        result = run_cli("synth", *demos, "--format", fmt, "-o", str(renderings[fmt]))
        assert result.code == 0, result.stderr
    result = run_cli("verify", str(renderings["ssm"]), *demos)
    assert result.code == 0, result.stdout + result.stderr

    assert_reruns_alike(moto_server, aws, lambda env: script + filled(scenario.phases["rerun"], env), renderings,
                        scenario.inputs, scenario.inputs, scenario.environment, scenario.state)
