"""Loops over gathered lists (issue 9): a cleanup walks values no single list holds, each taken from
where the runbook has it (``[{{ CreateQueue.QueueUrl }}, {{ CreateQueue2.QueueUrl }}, …]``, inputs,
templates). Built by hand and synthesized from a log, such a runbook renders in every format, reads
back, is checked before rendering, is certified by verify against its log, and runs on the emulator
(bash and Python scripts, the SSM document through ``pysynth run``) with other names than the log's."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml

from conftest import one_demonstration, run_cli
from loop_logs import instances_started_then_stopped, queues_created_then_deleted
from loop_runbooks import HOSTILE_KEY, loop_step, objects_under_gathered_keys, queues_cleaned_up
from moto_server import REGION, moto_server  # noqa: F401 - the fixture
from pysynth.cloudformation import document_resource
from pysynth.graph import graph
from pysynth.iam import permissions, policy_document
from pysynth.ingest.select import Selection, ingest
from pysynth.lint import limit_problems
from pysynth.model import Input, InputRef, ItemRef, Output, OutputRef, Runbook, Step, Template
from pysynth.render import RenderError, render, render_checked
from pysynth.ssm import load_runbook, parse_document
from pysynth.synth import synthesize
from pysynth.verify import check_synthesized, verify
from test_emulator import RENDERINGS, run_rendering
from test_lint import cfn_lint

URLS = [f"https://sqs.eu-west-1.amazonaws.com/111122223333/{name}" for name in ("orders", "billing", "audit")]


def logged(directory: Path):
    """The calls of the demonstration: three queues created, then each deleted by its URL."""
    return ingest([str(queues_created_then_deleted(directory))], Selection(all_principals=True))


def synthesized(directory: Path, log=queues_created_then_deleted) -> Runbook:
    ingested = ingest([str(log(directory))], Selection(all_principals=True))
    return synthesize(ingested.kept, reads=ingested.reads, failed=ingested.failed).runbooks[0]


# --------------------------------------------------------------------------- rendering and reading back


def test_the_ssm_iterators_are_the_rendered_values_and_read_back(tmp_path):
    runbook = queues_cleaned_up()
    text = render_checked(runbook, "ssm")
    loop = yaml.safe_load(text)["mainSteps"][3]
    assert loop["inputs"]["Iterators"] == [
        "{{ CreateQueue.QueueUrl }}", "{{ CreateQueue2.QueueUrl }}", "{{ CreateQueue3.QueueUrl }}"]
    assert loop["inputs"]["Steps"][0]["inputs"]["QueueUrl"] == "{{ EachQueueUrl.CurrentIteratorValue }}"
    assert parse_document(text, "cleanup.yaml") == runbook
    path = tmp_path / "cleanup.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_runbook(path) == runbook


def test_inputs_templates_runtime_values_and_hostile_text_read_back_as_written(tmp_path):
    runbook = objects_under_gathered_keys()
    text = render_checked(runbook, "ssm")
    assert yaml.safe_load(text)["mainSteps"][1]["inputs"]["Iterators"] == [
        "{{ Key }}", "{{ Folder }}/{{ global:REGION }}/" + HOSTILE_KEY, HOSTILE_KEY, "copy{{ CreateBucket.Location }}"]
    assert parse_document(text, "objects.yaml") == runbook
    assert limit_problems(text) == []
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Runbook": document_resource(text)}}
    assert cfn_lint(yaml.safe_dump(template, sort_keys=False), tmp_path) == []
    # The scripts pass bash -n, shellcheck and compile (render_checked raises otherwise).
    for rendering in ("bash", "python"):
        render_checked(runbook, rendering)


def test_each_element_is_checked_like_a_requests_value():
    runbook = queues_cleaned_up()
    runbook.inputs += [Input("Names", "StringList", "A list.", default=["a"]),
                       Input("Archive", "String", "A file.", file=True)]
    runbook.steps[-1].loop.over = [
        OutputRef("DeleteQueue", "QueueUrl"), ItemRef("EachQueueUrl"), InputRef("Names"), InputRef("Missing"),
        Template(("https://", OutputRef("Later", "QueueUrl"))), InputRef("Archive"), 5,
    ]
    runbook.steps.append(Step("Later", "sqs", "CreateQueue", {"QueueName": "later"}, outputs=[
        Output("QueueUrl", "$.QueueUrl", "String", "QueueUrl")]))
    with pytest.raises(RenderError) as refused:
        render(runbook, "python")
    assert refused.value.problems == [
        "EachQueueUrl.Iterators[0]: output DeleteQueue.QueueUrl is not defined before step EachQueueUrl",
        "EachQueueUrl.Iterators[1]: the element of loop EachQueueUrl is used outside that loop's steps",
        "EachQueueUrl.Iterators[2]: input Names is json, but an element of the list is one text",
        "EachQueueUrl.Iterators[3]: input Missing is not defined before step EachQueueUrl",
        "EachQueueUrl.Iterators[4]: output Later.QueueUrl is not defined before step EachQueueUrl",
        "EachQueueUrl.Iterators[5]: input Archive names a file, but an element of the list is one text",
        "EachQueueUrl.Iterators[6]: an element of the list is one text or a reference, not int",
    ]


def test_a_brace_in_a_literal_element_is_refused_for_ssm_only():
    runbook = queues_cleaned_up()
    runbook.steps[-1].loop.over.append(Template(("https://example.com/{{ x }}/", InputRef("QueueName"))))
    runbook.steps[-1].loop.over.append("{{ QueueName }}")
    with pytest.raises(RenderError) as refused:
        render(runbook, "ssm")
    assert [problem.split(":")[0] for problem in refused.value.problems] == [
        "EachQueueUrl.Iterators[3]", "EachQueueUrl.Iterators[4]"]
    assert all("contains '{{'" in problem for problem in refused.value.problems)
    for rendering in ("bash", "python"):
        render_checked(runbook, rendering)


# --------------------------------------------------------------------------- what else reads the list


def test_the_graph_draws_each_producing_step_into_the_loop():
    lines = graph(queues_cleaned_up(), "mermaid").splitlines()
    assert [line for line in lines if line.endswith(" s4") and "-->" in line] == [
        '  s1 -->|"QueueUrl → element 1"| s4', '  s2 -->|"QueueUrl → element 2"| s4',
        '  s3 -->|"QueueUrl → element 3"| s4',
    ]


def test_the_policy_names_the_resource_of_each_element():
    names = [InputRef("UserName"), Template(("ops-", InputRef("Team"))), "audit-bot"]
    runbook = Runbook("Delete three users.", [Input("UserName", "String", ""), Input("Team", "String", "")], [
        loop_step("EachUserName", names, [
            Step("DeleteUser", "iam", "DeleteUser", {"UserName": ItemRef("EachUserName")})], iterations=3),
    ])
    document = policy_document(permissions(runbook, {"Partition": "aws", "Account": "111122223333"}))
    assert document["Statement"] == [{
        "Sid": "IamDeleteUser", "Effect": "Allow", "Action": "iam:DeleteUser",
        "Resource": ["arn:aws:iam::111122223333:user/${UserName}", "arn:aws:iam::111122223333:user/audit-bot",
                     "arn:aws:iam::111122223333:user/ops-${Team}"],
    }]


# --------------------------------------------------------------------------- verify


def test_a_synthesized_cleanup_is_certified_and_so_is_its_document(tmp_path):
    ingested = logged(tmp_path)
    runbook = synthesized(tmp_path)
    (loop,) = [step for step in runbook.steps if step.loop]
    assert loop.loop.over == [OutputRef(step.name, "QueueUrl") for step in runbook.steps if step.api == "CreateQueue"]
    verdict = check_synthesized(runbook, one_demonstration(ingested.kept, ingested.reads, ingested.failed))
    assert verdict.certified, [problem.message for problem in verdict.problems]
    assert verdict.iterations == {loop.name: [3]}
    path = tmp_path / "cleanup.yaml"
    path.write_text(render_checked(runbook, "ssm"), encoding="utf-8")
    read = load_runbook(path)
    assert (read.inputs, read.steps) == (runbook.inputs, runbook.steps)
    log = str(tmp_path / "queues.json")
    result = run_cli("verify", str(path), log)
    assert result.code == 0, result.stdout + result.stderr


def test_a_hand_built_cleanup_replays_each_element_from_its_producing_call(tmp_path):
    calls = logged(tmp_path).kept
    assert verify(queues_cleaned_up(), one_demonstration(calls)).certified
    # The queue's name where its URL belongs: the problem names the iteration, the element and where
    # the list has it.
    wrong = queues_cleaned_up()
    wrong.steps[-1].loop.over[1] = InputRef("QueueName2")
    (problem,) = verify(wrong, one_demonstration(calls)).problems
    assert (problem.kind, problem.iterations, problem.expected, problem.found) == (
        "value-differs", (2,), URLS[1], "billing")
    assert problem.message.startswith("EachQueueUrl iteration 2 (billing): step DeleteQueue QueueUrl:")
    assert problem.message.endswith('the runbook gives "billing" (from {{ EachQueueUrl.CurrentIteratorValue }}, '
                                    'element 2 of its list, {{ QueueName2 }})')


def test_an_element_without_a_value_is_named(tmp_path):
    calls = logged(tmp_path).kept
    runbook = queues_cleaned_up()
    runbook.input("QueueName3").default = None
    runbook.steps[-1].loop.over[2] = InputRef("QueueName3")
    messages = [problem.message for problem in verify(runbook, one_demonstration(calls)).problems]
    assert ("loop EachQueueUrl cannot be replayed: it walks [\"{{ CreateQueue.QueueUrl }}\", \"{{ CreateQueue2.QueueUrl "
            "}}\", \"{{ QueueName3 }}\"], but its element 3, {{ QueueName3 }}, has no value: input QueueName3 has no "
            "default; 3 calls of its body left unchecked") in messages


def test_a_dry_run_shows_each_element_as_far_as_it_is_known(tmp_path):
    path = tmp_path / "objects.yaml"
    path.write_text(render_checked(objects_under_gathered_keys(), "ssm"), encoding="utf-8")
    result = run_cli("run", str(path), "--dry-run", "--param", "Key=summary.csv")
    assert result.code == 0, result.stderr
    loop = json.loads(result.stdout)[-1]
    assert loop["iterators"] == ["summary.csv", f"daily/<global:REGION>/{HOSTILE_KEY}", HOSTILE_KEY,
                                 "copy<CreateBucket.Location>"]


# --------------------------------------------------------------------------- running on the emulator


@pytest.fixture
def endpoint(moto_server):  # noqa: F811 - the fixture
    """The moto server's URL, its state reset."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=30).close()
    return moto_server


def run(runbook: Runbook, rendering: str, endpoint: str, directory: Path, inputs: dict[str, str]) -> dict:
    path = directory / f"runbook.{RENDERINGS[rendering]}"
    path.write_text(render_checked(runbook, rendering), encoding="utf-8")
    return run_rendering(rendering, path, endpoint, inputs, {})


def queue_names(sqs) -> list[str]:
    return sorted(url.rsplit("/", 1)[1] for url in sqs.list_queues().get("QueueUrls", []))


@pytest.mark.parametrize("rendering", RENDERINGS)
@pytest.mark.parametrize("made", ["by hand", "synthesized"])
def test_the_cleanup_deletes_the_queues_the_runbook_created(made, rendering, endpoint, tmp_path):
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    sqs.create_queue(QueueName="keep-me")  # not the runbook's: it stays
    runbook = queues_cleaned_up() if made == "by hand" else synthesized(tmp_path)
    names = {"QueueName": "new-web", "QueueName2": "new-api", "QueueName3": "new-cron"}
    outputs = run(runbook, rendering, endpoint, tmp_path, names)
    # Each URL its creation returned, each walked once and deleted.
    assert sorted(url.rsplit("/", 1)[1] for url in outputs.values()) == sorted(names.values())
    assert queue_names(sqs) == ["keep-me"]


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_kind_of_element_reaches_its_iteration_intact(rendering, endpoint, tmp_path):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    inputs = {"Bucket": "gathered-keys", "Key": "$(touch pwned) 'a' \"b\" *", "Folder": "week 12"}
    run(objects_under_gathered_keys(), rendering, endpoint, tmp_path, inputs)
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="gathered-keys")["Contents"])
    assert keys == sorted([inputs["Key"], f"week 12/{REGION}/{HOSTILE_KEY}", HOSTILE_KEY, "copy/gathered-keys"])
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_one_call_stops_the_instances_three_steps_started(rendering, endpoint, tmp_path):
    runbook = synthesized(tmp_path, instances_started_then_stopped)
    (stop,) = [step for step in runbook.steps if step.api == "StopInstances"]
    starts = [step.name for step in runbook.steps if step.api == "RunInstances"]
    assert stop.batch == "InstanceIds" and stop.request["InstanceIds"] == [OutputRef(name, "InstanceId") for name in starts]
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    other = ec2.run_instances(ImageId="ami-03cf127a", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    outputs = run(runbook, rendering, endpoint, tmp_path, {})
    started = [outputs[f"{name}.InstanceId"] for name in starts]
    reservations = ec2.describe_instances()["Reservations"]
    states = {item["InstanceId"]: item["State"]["Name"] for reservation in reservations for item in reservation["Instances"]}
    assert states == {**dict.fromkeys(started, "stopped"), other: "running"}
