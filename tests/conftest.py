"""Shared helpers: realistic anonymised records, the shared corpus, and running the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pysynth.demos import Demonstration

SHARED = Path(__file__).resolve().parents[2] / "shared" / "cloudtrail"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ACCOUNT = "111122223333"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"


def one_demonstration(kept, reads=(), failed=(), name: str = "log") -> list[Demonstration]:
    """A log's selected events as the one demonstration verify certifies a runbook against."""
    return [Demonstration(name, list(kept), list(reads), list(failed))]


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared corpus not present at {SHARED}")
    return SHARED


def make_record(
    name: str,
    source: str = "iam.amazonaws.com",
    time: str = "2024-03-05T10:00:00Z",
    request: dict | None = None,
    response: dict | None = None,
    user: str = "alice",
    event_id: str | None = None,
    **extra: object,
) -> dict:
    """A CloudTrail record as CloudTrail writes it, for an IAM user of a made-up account."""
    record = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEALICE",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
            "accountId": ACCOUNT,
            "accessKeyId": f"AKIAEXAMPLE{user.upper()}",
            "userName": user,
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": response,
        "requestID": f"req-{name}-{time}",
        "eventID": event_id or f"{name}-{time}-{user}",
        "readOnly": name.startswith(("Get", "List", "Describe")),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
    }
    record.update(extra)
    return record


def retried_attachment() -> list[dict]:
    """alice creates user bob and attaches ReadOnlyAccess to him twice in a row: a retry."""
    policy = {"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    return [
        make_record("CreateUser", request={"userName": "bob"},
                    response={"user": {"userName": "bob", "userId": "AIDAEXAMPLEBOB", "path": "/",
                                       "arn": f"arn:aws:iam::{ACCOUNT}:user/bob", "createDate": "Mar 5, 2024 10:00:00 AM"}}),
        make_record("AttachUserPolicy", request=policy, time="2024-03-05T10:00:01Z"),
        make_record("AttachUserPolicy", request=policy, time="2024-03-05T10:00:02Z"),
    ]


def write_log(path: Path, records: list, layout: str = "records") -> Path:
    """Write ``records`` in one of the layouts the readers accept."""
    import gzip

    if layout == "records":
        text = json.dumps({"Records": records})
    elif layout == "array":
        text = json.dumps(records)
    elif layout == "lines":
        text = "\n".join(json.dumps(record) for record in records) + "\n"
    elif layout == "lookup-events":
        text = json.dumps({"Events": [{"EventId": r["eventID"], "CloudTrailEvent": json.dumps(r)} for r in records]})
    else:
        raise ValueError(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_cli(*args: str, input: str | None = None) -> Run:
    from pysynth.cli import app

    result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def run_process(*args: str, input: bytes | None = None) -> Run:
    """The installed command as a user runs it, through the same entry point."""
    # Run outside the checkout so the installed package, not the source tree, is imported.
    done = subprocess.run(
        [sys.executable, "-m", "pysynth", *args],
        input=input, capture_output=True, timeout=300, cwd=tempfile.gettempdir(),
    )
    return Run(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))
