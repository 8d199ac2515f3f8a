"""``pysynth upload``: create an Automation document, add versions, and refuse names SSM refuses; on moto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from conftest import run_cli
from moto_server import REGION, moto_server  # noqa: F401 - the module's moto server

from pysynth.upload import name_problems

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture
def ssm(moto_server):  # noqa: F811 - the fixture imported above
    return boto3.client("ssm", endpoint_url=moto_server, region_name=REGION)


def upload(endpoint: str, *arguments: str):
    return run_cli("upload", *arguments, "--endpoint-url", endpoint)


def test_create_then_add_a_version_that_becomes_the_default(moto_server, ssm, tmp_path):  # noqa: F811
    document = GOLDEN / "iam-onboarding.ssm.yaml"
    first = upload(moto_server, str(document), "--name", "Onboarding-Test")
    assert (first.code, first.stdout) == (0, "1\n"), first.stderr
    assert "created Onboarding-Test: version 1 is the default" in first.stderr
    stored = ssm.get_document(Name="Onboarding-Test", DocumentFormat="YAML")
    assert (stored["DocumentType"], stored["DocumentFormat"]) == ("Automation", "YAML")
    assert stored["Content"] == document.read_text()

    edited = tmp_path / "edited.yaml"
    edited.write_text(document.read_text().replace('default: "bob"', 'default: "dave"'))
    dry = upload(moto_server, str(edited), "--name", "Onboarding-Test", "--dry-run")
    assert (dry.code, dry.stdout) == (0, "2\n") and "dry run: nothing changed" in dry.stderr
    assert ssm.describe_document(Name="Onboarding-Test")["Document"]["LatestVersion"] == "1"

    second = upload(moto_server, str(edited), "--name", "Onboarding-Test")
    assert (second.code, second.stdout) == (0, "2\n"), second.stderr
    described = ssm.describe_document(Name="Onboarding-Test")["Document"]
    assert (described["LatestVersion"], described["DefaultVersion"]) == ("2", "2")
    assert 'default: "dave"' in ssm.get_document(Name="Onboarding-Test", DocumentFormat="YAML")["Content"]

    same = upload(moto_server, str(edited), "--name", "Onboarding-Test")
    assert (same.code, same.stdout) == (0, "2\n") and "already has this content" in same.stderr


def test_the_json_model_is_uploaded_as_its_ssm_rendering(moto_server, ssm):  # noqa: F811
    result = upload(moto_server, str(GOLDEN / "iam-users.json"), "--name", "Users-From-Model")
    assert result.code == 0, result.stderr
    content = ssm.get_document(Name="Users-From-Model", DocumentFormat="YAML")["Content"]
    assert content == (GOLDEN / "iam-users.ssm.yaml").read_text()


@pytest.mark.parametrize("name", ["AWS-Onboarding", "amazon.runbook", "ab", "with space", "x" * 129])
def test_a_name_ssm_rejects_is_refused_before_anything_is_sent(name, moto_server, ssm):  # noqa: F811
    result = upload(moto_server, str(GOLDEN / "iam-onboarding.ssm.yaml"), "--name", name)
    assert result.code == 2
    assert result.stderr.startswith("error: document name") and len(result.stderr.strip().splitlines()) == 1
    owned = ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"]
    assert name not in [identifier["Name"] for identifier in owned]


def test_name_rules_come_from_botocore():
    assert name_problems("Onboarding_v2.1") == []
    reserved = "aws, amazon, amzn, AWSEC2, AWSConfigRemediation, AWSSupport"
    assert name_problems("AWSSupport-Mine") == [
        f"document name 'AWSSupport-Mine' starts with 'aws', a prefix AWS reserves ({reserved})"
    ]


def test_bad_runbooks_and_an_unreachable_endpoint(tmp_path):
    missing = run_cli("upload", str(tmp_path / "none.yaml"), "--name", "Valid-Name")
    assert missing.code == 2 and "cannot read it" in missing.stderr
    unknown_format = tmp_path / "runbook.txt"
    unknown_format.write_text("schemaVersion: '2.2'\nmainSteps: []\n")
    refused = run_cli("upload", str(unknown_format), "--name", "Valid-Name")
    assert refused.code == 2 and "schemaVersion '2.2'" in refused.stderr
    # Nothing listens on port 9 of the loopback: one line, exit 6, no traceback.
    done = subprocess.run(
        [sys.executable, "-m", "pysynth", "upload", str(GOLDEN / "iam-onboarding.ssm.yaml"), "--name", "Valid-Name",
         "--endpoint-url", "http://127.0.0.1:9", "--region", REGION],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
             "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
    )
    assert done.returncode == 6 and done.stderr.startswith("error: cannot reach Systems Manager"), done.stderr
