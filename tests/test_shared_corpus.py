"""Every file of the shared real-world corpus goes through the readers and normaliser with every
record accounted for and no traceback; a real session's cleanups become certified loops."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, run_process
from pysynth.cli import EXIT_FAILED_CHECK

CORPUS = sorted(p.name for p in SHARED.iterdir() if p.name != "MANIFEST.tsv" and not p.name.endswith(".meta.json")) if SHARED.is_dir() else []


def record_count(path) -> int:
    if path.name.endswith(".tar.gz"):
        return 2900  # MANIFEST.tsv: the raw delivery files hold the same 2,900 records as the merged file
    document = json.loads(path.read_text())
    return len(document["Records"] if isinstance(document, dict) else document)


@pytest.mark.parametrize("name", CORPUS)
def test_every_record_is_accounted_for(shared, name):
    path = shared / name
    result = run_process("events", "--json", "--all-principals", str(path))
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == record_count(path)
    assert all(line["status"] == "kept" or line["reason"] for line in lines)
    assert all(line["operation"] or line["status"] == "dropped" for line in lines)


def test_raw_delivery_archive_matches_the_merged_file(shared):
    merged = run_process("events", "--json", "--all-principals", str(shared / "invictus_aws_dataset_merged_sorted.json"))
    archive = run_process("events", "--json", "--all-principals", str(shared / "invictus_aws_dataset_raw_cloudtrail.tar.gz"))
    def summary(run):
        return [(line["event_id"], line["operation"], line["status"], line["reason"]) for line in run.json_lines()]
    # Same records, same classification; order may differ only within one second.
    assert sorted(summary(merged), key=str) == sorted(summary(archive), key=str)

    def kept_ids(run):
        return [line["event_id"] for line in run.json_lines() if line["status"] == "kept"]

    assert len(kept_ids(merged)) == len(kept_ids(archive)) > 300


def test_the_cleanups_of_a_real_trail_walk_what_the_session_created(shared, tmp_path):
    """bert-jan's session creates secrets, route tables and parameters, then deletes them: each cleanup
    is one loop over the values the deletions took, each from where the runbook has it (the ARN or id
    a creating step returned, the parameter name a PutParameter step shares), and the runbook is
    certified (synth prints nothing it did not verify) in every format that can carry it."""
    log = str(shared / "invictus_aws_dataset_merged_sorted.json")
    result = run_process("synth", "--principal", "bert-jan", log, "--format", "json")
    assert result.code == 0, result.stderr
    model = json.loads(result.stdout)
    steps = {step["name"]: step for step in model["steps"]}
    inputs = {item["name"]: item for item in model["inputs"]}
    cleanups = [step for step in model["steps"] if step.get("loop")]
    assert {step["loop"]["steps"][0]["api"] for step in cleanups} == {"DeleteSecret", "DeleteRouteTable", "DeleteParameter"}
    sources = {"DeleteSecret": ("CreateSecret", "ARN"), "DeleteRouteTable": ("CreateRouteTable", "RouteTableId")}
    for cleanup in cleanups:
        body = cleanup["loop"]["steps"][0]
        assert len(cleanup["loop"]["over"]) == cleanup["loop"]["iterations"] > 1
        for element in cleanup["loop"]["over"]:
            if body["api"] == "DeleteParameter":
                used_by = inputs[element["$input"]]["used_by"]
                assert any(steps[place.split(".")[0]]["api"] == "PutParameter" for place in used_by if "." in place)
            else:
                step, output = element["$output"]
                assert (steps[step]["api"], output) == sources[body["api"]]
    for fmt in ("bash", "python"):
        rendered = run_process("synth", "--principal", "bert-jan", log, "--format", fmt, "-o", str(tmp_path / fmt))
        assert rendered.code == 0, rendered.stderr
    # SSM Automation cannot read the session's local deployment package; nothing else keeps it from
    # carrying the runbook, its cleanup loops included.
    refused = run_process("synth", "--principal", "bert-jan", log, "--format", "ssm")
    problems = refused.stderr[refused.stderr.index("failed its checks:"):].splitlines()[1:]
    assert refused.code == EXIT_FAILED_CHECK and len(problems) == 1 and problems[0].startswith("UpdateFunctionCode.ZipFile: ")
