"""The synth summary and compare's table for runbooks with loops and batch steps: body steps counted,
each loop with what it walks and how many iterations the log shows (SSM's limit where passed), and a
loop against a step per call shown as a difference between alternatives."""

from __future__ import annotations

from rich.console import Console

from conftest import make_record, write_log
from loop_logs import bucket_encryption
from pysynth.facts import analyse
from pysynth.ingest.select import Selection, ingest
from pysynth.model import LOOP, Input, InputRef, ItemRef, Loop, RecordRef, Runbook, Step
from pysynth.report import comparison_table, synth_summary
from pysynth.solve import Answer, Outcome
from pysynth.synth import Synthesis, synthesize

BUCKETS = ["logs-a", "logs-b", "logs-c"]
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def encrypt(name: str, bucket, record: RecordRef) -> Step:
    return Step(name, "s3", "PutBucketEncryption", {"Bucket": bucket, "ServerSideEncryptionConfiguration": ENCRYPTION},
                records=[record])


def looped(records: list[RecordRef], iterations: int = 3) -> Runbook:
    body = [encrypt("EncryptBucket", ItemRef("EachBucket"), records[0])]
    return Runbook("Encrypt.", [Input("Buckets", "StringList", "The buckets.", default=BUCKETS)], [
        Step("EachBucket", "", "", {}, action=LOOP, loop=Loop(InputRef("Buckets"), body, iterations))])


def one_step_per_call(records: list[RecordRef]) -> Runbook:
    names = ["EncryptBucket", "EncryptBucket2", "EncryptBucket3"]
    return Runbook("Encrypt.", [], [encrypt(name, bucket, record) for name, bucket, record in zip(names, BUCKETS, records)])


def synthesis(tmp_path, costs: list[list[int]]) -> tuple[Synthesis, list[RecordRef]]:
    log = write_log(tmp_path / "log.json", [
        make_record("PutBucketEncryption", source="s3.amazonaws.com", time=f"2024-03-05T10:00:0{second}Z",
                    request={"Bucket": bucket, "ServerSideEncryptionConfiguration": ENCRYPTION})
        for second, bucket in enumerate(BUCKETS)])
    calls = ingest([str(log)], Selection(principal="alice")).kept
    answers = [Answer(steps=[1, 2, 3], merged={}, bindings={}, inputs=[], cost=cost, violations=[]) for cost in costs]
    outcome = Outcome(True, True, answers, ["steps", "inputs"], [], {"atoms": 10, "rules": 20})
    records = [RecordRef(event.file, event.index, event.event_id, event.time) for event in calls]
    return Synthesis(analyse(calls), outcome), records


def rows_of(table) -> dict[str, list[str]]:
    """A table's rows as a terminal shows them: first cell -> the others."""
    console = Console(record=True, width=400)
    console.print(table)
    return {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in console.export_text().splitlines() if line.startswith("│")}


def test_the_summary_counts_body_steps_and_names_each_loop(tmp_path):
    built, records = synthesis(tmp_path, [[1, 1]])
    runbook = looped(records)
    built.runbooks = [runbook]
    rows = rows_of(synth_summary(built, runbook))
    assert rows["steps"] == ["2 (1 in loops)"]
    assert rows["loop EachBucket"] == ["EncryptBucket for each element of input Buckets: 3 iterations in the log"]


def test_the_summary_warns_where_a_loop_passes_ssm_s_limit(tmp_path):
    built, records = synthesis(tmp_path, [[1, 1]])
    runbook = looped(records, iterations=150)
    assert rows_of(synth_summary(built, runbook))["loop EachBucket"] == [
        "EncryptBucket for each element of input Buckets: 150 iterations in the log; SSM's aws:loop runs at most 100 "
        "iterations and fails on a longer list: use the bash or Python rendering, or split the list"]


def test_compare_shows_a_loop_against_a_step_per_call(tmp_path):
    built, records = synthesis(tmp_path, [[1, 1], [3, 0]])
    runbooks = [looped(records), one_step_per_call(records)]
    built.runbooks = runbooks
    rows = rows_of(comparison_table(built, runbooks))
    assert rows["order"] == ["EachBucket (EncryptBucket)", "EncryptBucket → EncryptBucket2 → EncryptBucket3"]
    assert rows["loops and batches"] == ["EachBucket over input Buckets", "none: each call its own step"]
    # Which step makes the second call: a loop's later iteration, found by replaying the loop.
    assert rows["call 2 PutBucketEncryption"] == ["EncryptBucket (in loop EachBucket)", "EncryptBucket2"]
    assert "call 1 PutBucketEncryption" in rows


def test_the_summary_names_a_batch_step(tmp_path):
    built, records = synthesis(tmp_path, [[1, 1]])
    runbook = Runbook("Stop.", [Input("InstanceIds", "StringList", "The instances.", default=["i-1", "i-2"])], [
        Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": InputRef("InstanceIds")}, batch="InstanceIds",
             records=records[:2])])
    rows = rows_of(synth_summary(built, runbook))
    assert rows["steps"] == ["1"]
    assert rows["batch StopInstances"] == ["one call for the whole list in InstanceIds, where the log shows 2 calls"]


def test_compare_of_a_synthesized_loop_names_every_iteration_s_call(tmp_path):
    log = bucket_encryption(tmp_path, ["data-x", "logs-a", "web-1", "logs-b"], ["logs-a", "logs-b"])
    ingested = ingest([str(log)], Selection(all_principals=True))
    built = synthesize(ingested.kept, reads=ingested.reads, failed=ingested.failed, models=3)
    rows = rows_of(comparison_table(built, built.runbooks))
    assert rows["loops and batches"][0] == ('EachBucket over ListBuckets.MatchingBucketNames (Buckets[*].Name where Name '
                                            'starts with "logs-")')
    # The second bucket's call is the loop's second iteration, not a call the runbook leaves out.
    assert rows["call 3 PutBucketEncryption"][0] == "PutBucketEncryption (in loop EachBucket)"
    assert rows["PutBucketEncryption (in loop EachBucket).Bucket"][0] == "loop element"
