"""The bundled examples: each renders exactly its reviewed golden runbook in every format.

Set PYSYNTH_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change, then review
the diff by eye before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import SHARED, run_cli

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
MERGED = "../shared/cloudtrail/invictus_aws_dataset_merged_sorted.json"
EXAMPLES = {
    "iam-onboarding": ["--principal", "alice", "examples/iam-onboarding.json"],
    "terraform-vpc": ["../shared/cloudtrail/invictus_terraform_vpc_iam_ec2_deploy_session.json"],
    "iam-users": ["--principal", "bert-jan", "--since", "2023-07-10T12:24:28Z", "--until", "2023-07-10T12:24:50Z", MERGED],
    "ec2-security-group-snapshot": ["--principal", "bert-jan", "--since", "2023-07-10T12:10:00Z",
                                    "--until", "2023-07-10T12:10:40Z", MERGED],
}
SUFFIXES = {"ssm": "ssm.yaml", "bash": "sh", "python": "py", "json": "json"}


def stable(text: str, fmt: str) -> str:
    """The JSON model carries the solver's wall time: the one thing that differs run to run."""
    if fmt != "json":
        return text
    document = json.loads(text)
    document["solution"]["seconds"] = 0
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def without_search(text: str, fmt: str) -> str:
    """The number of models clingo found on its way to the optimum depends on its search, not on
    the answer: the golden files pin the runbook, not clingo's heuristics."""
    if fmt != "json":
        return text
    document = json.loads(text)
    document["solution"]["models"] = 0
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("fmt", SUFFIXES)
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_renders_its_golden_runbook(example, fmt, monkeypatch):
    arguments = EXAMPLES[example]
    if any(argument.startswith("../shared/") for argument in arguments) and not SHARED.is_dir():
        pytest.skip(f"shared corpus not present at {SHARED}")
    monkeypatch.chdir(ROOT)  # record paths in the runbooks are relative to the project root
    result = run_cli("synth", "--format", fmt, *arguments)
    assert result.code == 0, result.stderr
    text = stable(result.stdout, fmt)
    golden = GOLDEN / f"{example}.{SUFFIXES[fmt]}"
    if os.environ.get("PYSYNTH_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert without_search(text, fmt) == without_search(golden.read_text(), fmt)
