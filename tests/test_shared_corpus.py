"""Every file of the shared real-world corpus goes through the readers and normaliser with every
record accounted for and no traceback."""

from __future__ import annotations

import json

import pytest

from conftest import SHARED, run_process

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
