"""Synthesis end to end: logs in, runbook models out, with every rule the issue names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_record, retried_attachment, run_cli, write_log
from pysynth import synth as synth_module
from pysynth.facts import analyse
from pysynth.ingest.select import Selection, ingest
from pysynth.model import GlobalRef, InputRef, OutputRef, Template
from pysynth.synth import synthesize

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TERRAFORM = "invictus_terraform_vpc_iam_ec2_deploy_session.json"


def kept(path, principal=None):
    return ingest([str(path)], Selection(principal=principal, all_principals=principal is None)).kept


def leaves(value, path=""):
    """(path, leaf) for every literal or reference in a request tree."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def test_iam_onboarding_example():
    synthesis = synthesize(kept(EXAMPLES / "iam-onboarding.json", "alice"))
    runbook = synthesis.runbooks[0]
    assert [step.api for step in runbook.steps] == [
        "CreateUser", "AttachUserPolicy", "CreateLoginProfile", "AddUserToGroup", "CreateAccessKey"]
    assert [(i.name, i.type, i.default, i.secret) for i in runbook.inputs] == [
        ("UserName", "String", "bob", False), ("Password", "String", None, True),
        ("GroupName", "String", "developers", False)]
    create, attach, login, group, key = runbook.steps
    assert create.request["UserName"] == InputRef("UserName")
    # The name the user chose flows from the step that created the user, not from a second input.
    assert attach.request == {"UserName": OutputRef("CreateUser", "UserName"),
                              "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert login.request["Password"] == InputRef("Password")
    assert key.request == {"UserName": OutputRef("CreateUser", "UserName")}
    assert runbook.solution.optimal and runbook.solution.objectives["inputs"] == 3
    assert [(r.index, r.event_id) for r in attach.records] == [(1, "00000000-0000-0000-0000-000000002002")]


def test_terraform_slice_every_created_id_flows_from_its_producer(shared):
    calls = kept(shared / TERRAFORM)
    session = analyse(calls)
    runbook = synthesize(calls).runbooks[0]
    produced_texts = {session.values[value_id - 1]: call for value_id, call in session.produced.items()}
    step_of_call = {call: step.name for call, step in zip(range(1, len(calls) + 1), runbook.steps)}
    references = 0
    for step in runbook.steps:
        for path, leaf in leaves(step.request):
            if isinstance(leaf, OutputRef):
                references += 1
                assert runbook.step(leaf.step).outputs, path
                assert [s.name for s in runbook.steps].index(leaf.step) < [s.name for s in runbook.steps].index(step.name)
            if isinstance(leaf, str):
                assert leaf not in produced_texts, f"{step.name}.{path} is the created id {leaf} as a literal"
    assert references >= 20
    run = runbook.step("RunInstances")
    assert run.request["NetworkInterfaces"][0]["NetworkInterfaceId"] == OutputRef("CreateNetworkInterface", "NetworkInterfaceId")
    assert run.request["ImageId"] == InputRef("ImageId")
    assert runbook.step("CreateRoute2").request["NatGatewayId"] == OutputRef("CreateNatGateway", "NatGatewayId")
    assert runbook.step("CreateSubnet").request["AvailabilityZone"] == Template((GlobalRef("REGION"), "a"))
    assert len(step_of_call) == len(runbook.steps) == 23


@pytest.mark.parametrize("fmt", ["ssm", "bash", "python", "json"])
def test_no_account_id_region_or_hidden_placeholder_is_written_literally(shared, fmt):
    result = run_cli("synth", "--format", fmt, str(shared / TERRAFORM))
    assert result.code == 0, result.stderr
    assert "123837392027" not in result.stdout
    assert "us-east-1" not in result.stdout


def test_retries_become_one_step(tmp_path):
    runbook = synthesize(kept(write_log(tmp_path / "retry.json", retried_attachment()))).runbooks[0]
    assert [step.name for step in runbook.steps] == ["CreateUser", "AttachUserPolicy"]
    assert len(runbook.steps[1].records) == 2
    assert runbook.solution.objectives["steps"] == 2


def test_repeated_call_with_a_use_in_between_is_not_a_retry(tmp_path):
    start = {"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}}
    records = [make_record(name, source="ec2.amazonaws.com", request=start, time=f"2024-03-05T10:00:0{n}Z")
               for n, name in enumerate(["StartInstances", "StopInstances", "StartInstances"])]
    runbook = synthesize(kept(write_log(tmp_path / "cycle.json", records))).runbooks[0]
    assert [step.api for step in runbook.steps] == ["StartInstances", "StopInstances", "StartInstances"]
    assert [i.type for i in runbook.inputs] == ["StringList"]


def test_hidden_values_become_secret_inputs_without_default(tmp_path):
    records = [make_record("CreateLoginProfile", request={"userName": "carol", "password": "HIDDEN_DUE_TO_SECURITY_REASONS"})]
    runbook = synthesize(kept(write_log(tmp_path / "secret.json", records))).runbooks[0]
    password = runbook.input("Password")
    assert password.secret and password.default is None
    text = json.dumps([step.request for step in runbook.steps], default=str)
    assert "HIDDEN" not in text


def test_compare_shows_alternatives_side_by_side():
    result = run_cli("compare", "-n", "3", "--principal", "alice", str(EXAMPLES / "iam-onboarding.json"))
    assert result.code == 0, result.stderr
    assert "cost: inputs" in result.stdout and "#1" in result.stdout and "#2" in result.stdout
    assert "output CreateUser: User.UserName" in result.stdout and "input" in result.stdout


def test_facts_command_prints_the_schema_predicates():
    result = run_cli("facts", "--principal", "alice", str(EXAMPLES / "iam-onboarding.json"))
    assert result.code == 0, result.stderr
    for predicate in ("call(", "call_operation(", "slot(", "slot_value(", "can_take(", "hidden(", "value_text("):
        assert predicate in result.stdout
    assert 'value_text(' in result.stdout and '"bob"' in result.stdout


def test_unsatisfiable_policy_names_the_conflicting_record(tmp_path):
    records = [make_record("AttachUserPolicy",
                           request={"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})]
    log = write_log(tmp_path / "admin.json", records)
    result = run_cli("synth", "--policy", "no-admin-policies", str(log))
    assert result.code == 3
    assert "no-admin-policies" in result.stderr
    assert f"{log} record 0" in result.stderr


def test_nothing_kept_is_an_error_not_an_empty_runbook(tmp_path):
    log = write_log(tmp_path / "reads.json", [make_record("GetUser", request={"userName": "bob"})])
    result = run_cli("synth", str(log))
    assert result.code == 1 and "nothing to automate" in result.stderr


def test_hostile_values_render_safely_or_are_refused_with_a_reason(tmp_path):
    hostile = "v\x00 {{ x }} $(rm -rf /) `id` 'q\"\n: # &a *b !c - yes"
    log = write_log(tmp_path / "hostile.json", [make_record(
        "CreateUser", request={"userName": "bob", "tags": [{"key": "note", "value": hostile}]})])
    for fmt in ("python", "json"):
        result = run_cli("synth", "--format", fmt, "--policy", "tags-as-inputs", str(log))
        assert result.code == 0, result.stderr
    document = json.loads(run_cli("synth", "--format", "json", "--policy", "tags-as-inputs", str(log)).stdout)
    assert [item["default"] for item in document["inputs"]] == ["bob", hostile]
    ssm = run_cli("synth", "--format", "ssm", str(log))
    assert ssm.code == 4 and "'{{'" in ssm.stderr and "render this runbook as bash or python" in ssm.stderr
    # In a request the NUL is JSON-escaped; as an input's default a bash variable cannot hold it.
    assert run_cli("synth", "--format", "bash", str(log)).code == 0
    bash = run_cli("synth", "--format", "bash", "--policy", "tags-as-inputs", str(log))
    assert bash.code == 4 and "NUL" in bash.stderr
    facts = run_cli("facts", str(log))
    assert facts.code == 0 and "\ufffd" in facts.stdout


def test_synth_prints_no_runbook_the_log_does_not_certify(monkeypatch):
    """The certification runs beside the rendering's checks: its problems still stop the runbook."""
    build = synth_module.build_runbook

    def tampered(*arguments):
        runbook = build(*arguments)
        runbook.steps[1].request["PolicyArn"] = "arn:aws:iam::aws:policy/AdministratorAccess"
        return runbook

    monkeypatch.setattr(synth_module, "build_runbook", tampered)
    result = run_cli("synth", "--principal", "alice", str(EXAMPLES / "iam-onboarding.json"))
    assert result.code == 5 and result.stdout == ""
    assert "the synthesized runbook does not reproduce the log; not printing it" in result.stderr
    assert "value-differs: step AttachUserPolicy PolicyArn" in result.stderr
    assert "AdministratorAccess" in result.stderr
