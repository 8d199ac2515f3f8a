"""Whole structures: a request's map or structure that a recorded read returned (the item GetItem
read, put into another table) is copied from the read's output rather than written out as logged,
so that a rerun with another key moves that other item. The facts and the encoding on small logs
built here, verify, and every rendering run against moto with an item the log never showed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from conftest import make_record, run_cli, write_log
from moto_server import MOTO_ENVIRONMENT, moto_server  # noqa: F401 - the module's moto server
from pysynth.cloudformation import document_resource
from pysynth.facts import analyse
from pysynth.ingest.select import Selection, ingest
from pysynth.model import OutputRef, runbook_from_json
from pysynth.render import option_name
from pysynth.solve import Fact, solve
from test_lint import cfn_lint

DYNAMODB = "dynamodb.amazonaws.com"
ITEM = {"id": {"S": "order-1"}, "owner": {"S": "alice"}, "size": {"N": "3"}}
KMS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def item_move(read: dict | None, written: dict | None = None, second: int = 0) -> list[dict]:
    """GetItem of the item ``read`` (None: as CloudTrail logs it, no response; the key order-1) from
    the orders table, PutItem of ``written`` (the read item by default) into the archive table, and
    DeleteItem of that key from the orders table, logged from ``second`` on."""
    key = {"id": (read or ITEM)["id"]}
    return [
        make_record("GetItem", DYNAMODB, f"2024-03-05T10:00:{second:02d}Z", {"TableName": "orders", "Key": key},
                    None if read is None else {"Item": read}),
        make_record("PutItem", DYNAMODB, f"2024-03-05T10:00:{second + 1:02d}Z",
                    {"TableName": "archive", "Item": written or read or ITEM}),
        make_record("DeleteItem", DYNAMODB, f"2024-03-05T10:00:{second + 2:02d}Z", {"TableName": "orders", "Key": key}),
    ]


def items_moved(owners: dict[str, str]) -> list[dict]:
    """One item move after the other, for each key and its item's owner."""
    return [record for number, (key, owner) in enumerate(owners.items())
            for record in item_move({"id": {"S": key}, "owner": {"S": owner}}, second=3 * number)]


def session_of(path: Path):
    ingested = ingest([str(path)], Selection(all_principals=True))
    return analyse(ingested.kept, ingested.reads, ingested.failed)


def slot_at(session, operation: str, path: str):
    return next(slot for slot in session.slots
                if session.call_event(slot.call).call.operation == operation and slot.path == path)


# --------------------------------------------------------------------------- facts and encoding


def test_the_item_a_read_returned_is_a_whole_slot_of_the_request_that_writes_it(tmp_path):
    session = session_of(write_log(tmp_path / "moved.json", item_move(ITEM)))
    item = slot_at(session, "PutItem", "Item")
    (output,) = [output for output in session.outputs if output.path == "Item"]
    facts = set(session.facts())
    assert {Fact("whole", (item.id,)), Fact("output", (output.id, 1, "Item")), Fact("output_type", (output.id, "map")),
            Fact("slot_type", (item.id, "map")), Fact("can_take", (item.id, output.id))} <= facts
    within = [slot for slot in session.slots if slot.within == item.id]
    assert {slot.path for slot in within} == {"Item.id.S", "Item.owner.S", "Item.size.N"}
    assert {Fact("slot_within", (slot.id, item.id)) for slot in within} <= facts
    # The item's key names it: an identifier (an input, never a literal), named by its attribute.
    for operation in ("GetItem", "DeleteItem"):
        key = slot_at(session, operation, "Key.id.S")
        assert key.identifier and key.key_attribute == "id"
    # Within the item, the same text is data: the whole item is what flows.
    assert not slot_at(session, "PutItem", "Item.id.S").identifier


def test_the_optimum_copies_the_item_from_the_read_and_binds_nothing_within_it(tmp_path):
    session = session_of(write_log(tmp_path / "moved.json", item_move(ITEM)))
    outcome = solve(session.facts())
    assert outcome.satisfiable and outcome.optimal
    answer = outcome.answers[0]
    item = slot_at(session, "PutItem", "Item")
    assert answer.read_steps == [1] and answer.steps == [1, 2, 3]
    assert answer.bindings[item.id].kind == "output"
    assert session.outputs[answer.bindings[item.id].output - 1].path == "Item"
    assert not [slot.path for slot in session.slots if slot.within == item.id and slot.id in answer.bindings]
    costs = dict(zip(outcome.objectives, answer.cost))
    assert costs["uncopied_structures"] == 0 and costs["steps"] == 3


def test_without_the_objective_the_logged_item_is_written_out_and_the_read_left_out(tmp_path):
    session = session_of(write_log(tmp_path / "moved.json", item_move(ITEM)))
    objectives = tmp_path / "objectives.lp"
    objectives.write_text("priority(inputs,3). priority(steps,2). priority(log_order,1).\n")
    answer = solve(session.facts(), objectives=objectives).answers[0]
    item = slot_at(session, "PutItem", "Item")
    assert answer.read_steps == [] and answer.bindings[item.id].kind == "literal"
    # Spelled out, the item is its slots, each bound on its own.
    assert {slot.path for slot in session.slots if slot.within == item.id and slot.id in answer.bindings} == {
        "Item.id.S", "Item.owner.S", "Item.size.N"}


def test_cloudtrail_logs_no_read_response_so_nothing_is_whole(tmp_path):
    session = session_of(write_log(tmp_path / "cloudtrail.json", item_move(None, ITEM)))
    assert not any(slot.whole or slot.within for slot in session.slots)
    assert not {fact.predicate for fact in session.facts()} & {"whole", "slot_within"}
    assert slot_at(session, "DeleteItem", "Key.id.S").identifier


def encryption_copied(log: Path, rule: dict) -> bool:
    """Whether PutBucketEncryption's configuration, the one GetBucketEncryption of another bucket
    answered, is a whole slot."""
    configuration = {"Rules": [{"ApplyServerSideEncryptionByDefault": rule}]}
    session = session_of(write_log(log, [
        make_record("GetBucketEncryption", "s3.amazonaws.com", "2024-03-05T10:00:00Z", {"bucketName": "template-bucket"},
                    {"ServerSideEncryptionConfiguration": configuration}),
        make_record("PutBucketEncryption", "s3.amazonaws.com", "2024-03-05T10:00:01Z",
                    {"bucketName": "new-bucket", "ServerSideEncryptionConfiguration": configuration}),
    ]))
    return any(slot.whole for slot in session.slots)


def test_a_structure_of_settings_is_not_copied_but_one_with_data_is(tmp_path):
    # AES256 is an enum: the same setting in two buckets says nothing about data flow.
    assert not encryption_copied(tmp_path / "aes.json", {"SSEAlgorithm": "AES256"})
    # A KMS key the read showed is data the second bucket took from the first.
    assert encryption_copied(tmp_path / "kms.json", {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY})


def test_a_response_that_only_echoes_its_request_is_not_copied(tmp_path):
    # An item of its key alone: DeleteItem's Key equals it, but the read told nothing the request did not.
    only_key = {"id": {"S": "order-1"}}
    session = session_of(write_log(tmp_path / "echo.json", item_move(only_key)))
    assert not any(slot.whole for slot in session.slots)


# --------------------------------------------------------------------------- runbook and verify


def synthesized(log: Path, fmt: str, *options: str) -> str:
    result = run_cli("synth", "--format", fmt, *options, str(log))
    assert result.code == 0, result.stderr
    return result.stdout


def test_the_runbook_reads_the_item_and_puts_that_item(tmp_path):
    log = write_log(tmp_path / "moved.json", item_move(ITEM))
    runbook = runbook_from_json(json.loads(synthesized(log, "json")))
    assert [step.name for step in runbook.steps] == ["GetItem", "PutItem", "DeleteItem"]
    (output,) = runbook.step("GetItem").outputs
    assert (output.name, output.selector, output.type) == ("Item", "$.Item", "StringMap")
    assert runbook.step("PutItem").request["Item"] == OutputRef("GetItem", "Item")
    assert {item.name: item.default for item in runbook.inputs} == {
        "TableName": "orders", "Id": "order-1", "TableName2": "archive"}
    document = synthesized(log, "ssm")
    assert "{{ GetItem.Item }}" in document
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Runbook": document_resource(document)}}
    assert cfn_lint(yaml.safe_dump(template, sort_keys=False), tmp_path) == []


def test_verify_compares_the_copied_item_with_the_logged_request(tmp_path):
    log = write_log(tmp_path / "moved.json", item_move(ITEM))
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(synthesized(log, "ssm"))
    assert run_cli("verify", str(runbook), str(log)).code == 0
    # A log whose PutItem wrote the item with another owner than the read returned.
    changed = write_log(tmp_path / "changed.json", item_move(ITEM, {**ITEM, "owner": {"S": "carol"}}))
    result = run_cli("verify", str(runbook), str(changed))
    assert result.code == 5
    assert 'value-differs' in result.stderr and 'Item.owner.S' in result.stderr
    assert '"carol", the runbook gives "alice" (from {{ GetItem.Item }})' in result.stderr


def test_the_item_as_an_input_renders_in_every_format_and_is_certified(tmp_path):
    # Reached by objectives or policies that rule the copy out: a StringMap input whose default is
    # the logged item (`pysynth compare` shows it among the next best runbooks).
    log = write_log(tmp_path / "moved.json", item_move(ITEM))
    policy = tmp_path / "item-input.lp"
    policy.write_text("violation(item_input,slot(X)) :- whole(X), bind(X,B), B != input.\n")
    model = json.loads(synthesized(log, "json", "--policy", str(policy)))
    (item,) = [item for item in model["inputs"] if item["name"] == "Item"]
    assert (item["type"], item["default"]) == ("StringMap", ITEM)
    for fmt in ("bash", "python"):
        synthesized(log, fmt, "--policy", str(policy))
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(synthesized(log, "ssm", "--policy", str(policy)))
    assert run_cli("verify", str(runbook), str(log)).code == 0


def test_items_moved_one_after_the_other_are_one_loop_over_their_keys(tmp_path):
    log = write_log(tmp_path / "moved.json", items_moved({"order-1": "alice", "order-2": "bob", "order-3": "carol"}))
    runbook = runbook_from_json(json.loads(synthesized(log, "json")))
    (loop,) = runbook.steps
    assert loop.name == "EachId" and [step.name for step in loop.loop.steps] == ["GetItem", "PutItem", "DeleteItem"]
    assert runbook.input("Ids").default == ["order-1", "order-2", "order-3"]
    # Each iteration puts the item its own read returned.
    assert runbook.step("PutItem").request["Item"] == OutputRef("GetItem", "Item")
    runbook_path = tmp_path / "runbook.yaml"
    runbook_path.write_text(synthesized(log, "ssm"))
    assert run_cli("verify", str(runbook_path), str(log)).code == 0


# --------------------------------------------------------------------------- on the emulator

# Binary attributes besides the rest: the AWS CLI and SSM print binary data as base64, and a copy
# must still write the bytes themselves.
BINARY_ITEM = {"owner": {"S": "dave"}, "photo": {"B": b"\x00\xff\x89PNG"}, "keys": {"BS": [b"\x01", b"\x02"]},
               "tags": {"SS": ["a", "b"]}, "nested": {"M": {"blob": {"B": b"\xfe"}}}}
RENDERINGS = {"python": "py", "ssm": "ssm.yaml", "bash": "sh"}


def run_rendering(rendering: str, path: Path, endpoint: str, inputs: dict[str, str]) -> subprocess.CompletedProcess:
    if rendering == "ssm":
        command = [sys.executable, "-m", "pysynth", "run", str(path)]
        command += [argument for name, value in inputs.items() for argument in ("--param", f"{name}={value}")]
    else:
        command = ["bash" if rendering == "bash" else sys.executable, str(path)]
        command += [argument for name, value in inputs.items() for argument in (option_name(name), value)]
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYSYNTH_"))}
    environment.update(MOTO_ENVIRONMENT)
    # The AWS CLI the bash script calls is the one installed beside this Python (v1, from PyPI).
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    return subprocess.run([*command, "--endpoint-url", endpoint], capture_output=True, text=True, env=environment,
                          timeout=300, stdin=subprocess.DEVNULL)


def tables(endpoint: str, source: str, target: str, items: list[dict]):
    """A source table holding ``items`` and an empty target table; the client."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=MOTO_ENVIRONMENT["AWS_REGION"])
    for table in (source, target):
        dynamodb.create_table(TableName=table, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    for item in items:
        dynamodb.put_item(TableName=source, Item=item)
    return dynamodb


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_each_rendering_moves_another_item_byte_for_byte_or_refuses(rendering, moto_server, tmp_path):
    source, target, item_id = f"{rendering}-orders", f"{rendering}-archive", f"{rendering}-order-7"
    item = {"id": {"S": item_id}, **BINARY_ITEM}
    dynamodb = tables(moto_server, source, target, [item])
    script = tmp_path / f"runbook.{RENDERINGS[rendering]}"
    script.write_text(synthesized(write_log(tmp_path / "moved.json", item_move(ITEM)), rendering))

    done = run_rendering(rendering, script, moto_server, {"TableName": source, "TableName2": target, "Id": item_id})
    moved = dynamodb.scan(TableName=target)["Items"]
    if rendering == "bash":
        # AWS CLI v1 prints the bytes as base64 and would send that text back as the bytes: the
        # script stops before it writes anything.
        assert done.returncode != 0
        assert "GetItem.Item holds binary data" in done.stderr and "AWS CLI v2" in done.stderr
        assert moved == [] and dynamodb.scan(TableName=source)["Items"] == [item]
        return
    assert done.returncode == 0, done.stderr
    assert moved == [item] and dynamodb.scan(TableName=source)["Items"] == []
    # The printed output shows the bytes as base64, as the AWS CLI prints them.
    assert json.loads(done.stdout)["GetItem.Item"]["photo"] == {"B": "AP+JUE5H"}



@pytest.mark.parametrize("rendering", RENDERINGS)
def test_each_rendering_of_the_loop_moves_the_items_it_is_given(rendering, moto_server, tmp_path):
    source, target = f"{rendering}-loop-orders", f"{rendering}-loop-archive"
    items = [{"id": {"S": f"{rendering}-{number}"}, "owner": {"S": f"owner {number}"}, "tags": {"SS": ["x", str(number)]}}
             for number in range(1, 4)]
    dynamodb = tables(moto_server, source, target, items)
    script = tmp_path / f"runbook.{RENDERINGS[rendering]}"
    log = write_log(tmp_path / "moved.json", items_moved({"order-1": "alice", "order-2": "bob"}))
    script.write_text(synthesized(log, rendering))

    chosen = json.dumps([f"{rendering}-1", f"{rendering}-3"])
    done = run_rendering(rendering, script, moto_server, {"TableName": source, "TableName2": target, "Ids": chosen})
    assert done.returncode == 0, done.stderr
    # The two items given moved, each with its own attributes; the third stayed.
    assert sorted(dynamodb.scan(TableName=target)["Items"], key=str) == sorted([items[0], items[2]], key=str)
    assert dynamodb.scan(TableName=source)["Items"] == [items[1]]
