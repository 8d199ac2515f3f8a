"""Trails where they live: reading CloudTrail's layout straight from S3 (moto's S3), with the keys
listed narrowed by account, region and day, and one-line errors for locations that name nothing."""

from __future__ import annotations

import gzip
import json

import boto3
import pytest

from conftest import make_record, run_cli, run_process
from moto_server import moto_server  # noqa: F401 - the fixture
from pysynth.ingest import s3

BUCKET = "org-trail"
ORG = "o-abcdef1234"
ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("eu-west-1", "us-east-1")
DAYS = ("2024/03/04", "2024/03/05", "2024/03/06", "2024/03/09")


def key_of(account: str, region: str, day: str, number: int) -> str:
    stamp = day.replace("/", "") + "T1000Z"
    return (f"AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day}/"
            f"{account}_CloudTrail_{region}_{stamp}_{number:04d}.json.gz")


def records_of(account: str, region: str, day: str, number: int) -> list[dict]:
    moment = day.replace("/", "-") + f"T10:{number:02d}:00Z"
    user = "alice" if account == ACCOUNTS[0] else "bob"
    records = [
        make_record("CreateGroup", request={"groupName": f"g-{region}-{number}"}, time=moment, user=user,
                    event_id=f"{account}-{region}-{day}-{number}-w", awsRegion=region, recipientAccountId=account),
        make_record("GetGroup", request={"groupName": f"g-{region}-{number}"}, time=moment, user=user,
                    event_id=f"{account}-{region}-{day}-{number}-r", awsRegion=region, recipientAccountId=account),
    ]
    for record in records:
        record["userIdentity"]["arn"] = f"arn:aws:iam::{account}:user/{user}"
    return records


@pytest.fixture(scope="module")
def trail(moto_server, tmp_path_factory):  # noqa: F811 - the fixture
    """An organization trail in moto's S3, and the same files on disk."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", moto_server)
        client = boto3.client("s3", endpoint_url=moto_server)
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket="empty-bucket")
        local = tmp_path_factory.mktemp("trail")
        for account in ACCOUNTS:
            for region in REGIONS:
                for day in DAYS:
                    for number in range(2):
                        key = key_of(account, region, day, number)
                        body = gzip.compress(json.dumps({"Records": records_of(account, region, day, number)}).encode())
                        client.put_object(Bucket=BUCKET, Key=key, Body=body)
                        (local / key).parent.mkdir(parents=True, exist_ok=True)
                        (local / key).write_bytes(body)
        digest = f"AWSLogs/{ORG}/{ACCOUNTS[0]}/CloudTrail-Digest/eu-west-1/2024/03/05/digest.json.gz"
        client.put_object(Bucket=BUCKET, Key=digest, Body=gzip.compress(b'{"digestStartTime": "x"}'))
        yield {"url": moto_server, "local": local, "client": client}


def listed_prefixes(monkeypatch) -> list[str]:
    """The prefixes pysynth asks S3 to list, through a hook on its client."""
    prefixes: list[str] = []
    s3._client().meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda params, **_: prefixes.append(params["Prefix"]))
    return prefixes


def without_file(lines: list[dict]) -> list[tuple]:
    return [(line["event_id"], line["status"], line["reason"], line["params"]) for line in lines]


def test_a_trail_in_s3_reads_like_the_same_files_on_disk(trail):
    from_s3 = run_cli("events", "--json", "--all-principals", f"s3://{BUCKET}/AWSLogs/")
    on_disk = run_cli("events", "--json", "--all-principals", str(trail["local"] / "AWSLogs"))
    assert from_s3.code == 0, from_s3.stderr
    lines = from_s3.json_lines()
    assert len(lines) == 2 * 2 * 4 * 2 * 2
    assert without_file(lines) == without_file(on_disk.json_lines())
    assert lines[0]["record"]["file"].startswith(f"s3://{BUCKET}/AWSLogs/{ORG}/")
    assert "digest" not in from_s3.stderr  # digest files are not logs: never listed


def test_region_days_and_the_principal_account_narrow_what_is_listed(trail, monkeypatch):
    prefixes = listed_prefixes(monkeypatch)
    result = run_cli("events", "--json", "--region", "eu-west-1", "--since", "2024-03-05T00:00:00Z",
                     "--until", "2024-03-05T23:59:59Z", "--principal", f"arn:aws:iam::{ACCOUNTS[0]}:user/alice",
                     f"s3://{BUCKET}/")
    assert result.code == 0, result.stderr
    files = {line["record"]["file"].split("/CloudTrail/")[1].rsplit("/", 1)[0] for line in result.json_lines()}
    # The day after --until is read too: a file delivered after midnight may hold its last records.
    assert files == {"eu-west-1/2024/03/05", "eu-west-1/2024/03/06"}
    assert not [prefix for prefix in prefixes if ACCOUNTS[1] in prefix or "us-east-1" in prefix or "/03/09" in prefix]
    assert [line["event_id"] for line in result.json_lines() if line["status"] == "kept"] == [
        f"{ACCOUNTS[0]}-eu-west-1-2024/03/05-0-w", f"{ACCOUNTS[0]}-eu-west-1-2024/03/05-1-w"]


def test_without_a_selection_one_flat_listing_suffices(trail, monkeypatch):
    prefixes = listed_prefixes(monkeypatch)
    assert run_cli("events", "--json", "--all-principals", f"s3://{BUCKET}").code == 0
    assert prefixes == [""]


@pytest.mark.parametrize("location, message", [
    ("s3://no-such-bucket-here/AWSLogs/", "error: s3://no-such-bucket-here/AWSLogs/: no such bucket"),
    ("s3://empty-bucket/", "error: s3://empty-bucket/: no CloudTrail log files under this prefix"),
    (f"s3://{BUCKET}/nothing/here/", f"error: s3://{BUCKET}/nothing/here/: no CloudTrail log files under this prefix"),
])
def test_a_location_that_names_nothing_is_one_line_and_exit_2(trail, location, message):
    result = run_process("events", location)
    assert result.code == 2
    assert result.stderr.strip() == message
    assert result.stdout == ""


def test_a_selection_that_leaves_no_key_says_so(trail):
    result = run_process("synth", "--region", "ap-south-1", f"s3://{BUCKET}/AWSLogs/")
    assert result.code == 2
    assert result.stderr.strip() == (f"error: s3://{BUCKET}/AWSLogs/: no CloudTrail log files under this prefix "
                                     "for the selected accounts, regions and times")


def test_a_missing_key_is_a_warning_naming_it_and_the_rest_is_read(trail):
    from pysynth.ingest.readers import Source, read_sources

    good = f"s3://{BUCKET}/{key_of(ACCOUNTS[0], 'eu-west-1', '2024/03/05', 0)}"
    missing = f"s3://{BUCKET}/AWSLogs/gone.json.gz"
    items = [item for records in read_sources([Source(missing, 10), Source(good, 10)]) for item in records]
    assert str(items[0]) == f"{missing}: cannot read: no such key"
    assert len(items) == 3


def test_large_objects_are_streamed_from_s3_with_the_same_records(trail, monkeypatch):
    from pysynth.ingest import parsing

    whole = run_cli("events", "--json", "--all-principals", f"s3://{BUCKET}/AWSLogs/{ORG}/{ACCOUNTS[0]}/")
    monkeypatch.setattr(s3, "FETCH_MAX_BYTES", 0)  # no object is fetched whole
    monkeypatch.setattr(parsing, "STREAM_MIN_BYTES", 0)  # every object is parsed as a stream
    monkeypatch.setattr(parsing, "records_of_bytes", lambda name, data: pytest.fail(f"{name} was read whole"))
    streamed = run_cli("events", "--json", "--all-principals", f"s3://{BUCKET}/AWSLogs/{ORG}/{ACCOUNTS[0]}/")
    assert streamed.code == 0, streamed.stderr
    assert streamed.stdout == whole.stdout and len(whole.json_lines()) == 32
