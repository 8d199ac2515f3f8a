"""Readers: every container a user has, and every kind of damage, reported without a traceback."""

from __future__ import annotations

import gzip
import io
import json
import sys
import tarfile

import pytest

from conftest import make_record, write_log
from pysynth.ingest import parsing
from pysynth.ingest.readers import RawRecord, ReadProblem, read_inputs

RECORDS = [
    make_record("CreateUser", request={"userName": "bob"}, response={"user": {"userName": "bob"}}),
    make_record("GetUser", request={"userName": "bob"}, time="2024-03-05T10:00:01Z"),
]


def read(*paths) -> tuple[list[RawRecord], list[ReadProblem]]:
    items = list(read_inputs([str(path) for path in paths]))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, ReadProblem)]


@pytest.mark.parametrize("layout", ["records", "array", "lines", "lookup-events"])
@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_every_container_layout_yields_the_same_records(tmp_path, layout, suffix):
    path = write_log(tmp_path / f"log{suffix}", RECORDS, layout)
    records, problems = read(path)
    assert problems == []
    assert [r.data for r in records] == RECORDS
    assert [(r.file, r.index) for r in records] == [(str(path), 0), (str(path), 1)]


class Trickle(io.RawIOBase):
    """A stream that gives a few bytes per read, as a network body may."""

    def __init__(self, data: bytes):
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.data.read(min(len(buffer), 7))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("layout", ["records", "array", "lines", "lookup-events"])
@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_large_files_are_streamed_with_the_same_records(tmp_path, monkeypatch, layout, suffix):
    path = write_log(tmp_path / f"log{suffix}", RECORDS * 50, layout)
    whole = list(parsing.records_of_bytes(str(path), path.read_bytes()))
    monkeypatch.setattr(parsing, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(parsing, "HEAD_BYTES", 3000)
    monkeypatch.setattr(parsing, "records_of_bytes", lambda name, data: pytest.fail(f"{name} was read whole"))
    streamed = list(parsing.records_of_stream(str(path), Trickle(path.read_bytes()), path.stat().st_size))
    assert streamed == whole and len(streamed) == 100


def test_a_large_gzip_file_cut_short_keeps_its_complete_records(tmp_path, monkeypatch):
    path = write_log(tmp_path / "log.json.gz", RECORDS * 50)
    monkeypatch.setattr(parsing, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(parsing, "HEAD_BYTES", 3000)
    items = list(parsing.records_of_stream(str(path), io.BytesIO(path.read_bytes()[:-12]), None))
    assert sum(isinstance(item, RawRecord) for item in items) > 50
    assert str(items[-1]).startswith(f"{path}: corrupt or truncated gzip")


def test_a_single_bare_record(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(RECORDS[0], indent=2))
    records, problems = read(path)
    assert [r.data for r in records] == [RECORDS[0]] and problems == []


def test_directory_in_s3_delivery_layout_is_read_recursively_in_name_order(tmp_path):
    day = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail" / "eu-west-1" / "2024" / "03" / "05"
    write_log(day / "111122223333_CloudTrail_eu-west-1_20240305T1005Z_b.json.gz", [RECORDS[1]])
    write_log(day / "111122223333_CloudTrail_eu-west-1_20240305T1000Z_a.json.gz", [RECORDS[0]])
    (day / "notes.txt").write_text("not a log")
    records, problems = read(tmp_path)
    assert [r.data["eventName"] for r in records] == ["CreateUser", "GetUser"]
    assert problems == []


def test_tar_archive_of_log_files(tmp_path):
    archive = tmp_path / "logs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for number, record in enumerate(RECORDS):
            data = json.dumps({"Records": [record]}).encode()
            info = tarfile.TarInfo(f"CloudTrail/part{number}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    records, problems = read(archive)
    assert [r.data for r in records] == RECORDS
    assert records[0].file == f"{archive}!CloudTrail/part0.json"


def test_standard_input(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps({"Records": RECORDS}).encode())))
    records, problems = read("-")
    assert [r.file for r in records] == ["-", "-"] and problems == []


def test_truncated_log_keeps_complete_records_and_says_where_it_broke(tmp_path):
    path = tmp_path / "cut.json"
    text = json.dumps({"Records": RECORDS})
    path.write_text(text[: text.index('"GetUser"') + 5])
    records, problems = read(path)
    assert [r.data for r in records] == [RECORDS[0]]
    [problem] = problems
    assert str(problem).startswith(f"{path}: truncated JSON")
    assert "after 1 complete records" in str(problem)


def test_malformed_json_lines_name_the_line(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n{not json\n" + json.dumps(RECORDS[1]) + "\n")
    records, problems = read(path)
    assert [r.index for r in records] == [0, 2]
    [problem] = problems
    assert str(problem).startswith(f"{path} record 1: malformed JSON line (")
    assert str(problem).endswith("at column 2)")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("fake.json.gz", b'{"Records": []}', "named .gz but is not gzip-compressed"),
        ("empty.json", b"", "empty file"),
        ("blank.json", b"  \n\n", "empty file"),
        ("binary.json", bytes(range(256)) * 4, "not UTF-8 text (binary file?)"),
        ("corrupt.json.gz", b"\x1f\x8b\x08\x00garbage", "corrupt or truncated gzip"),
        ("digest.json", b'{"digestStartTime": "2024-03-05T10:00:00Z"}', "CloudTrail digest file"),
        ("other.json", b'{"hello": 1}', "not a CloudTrail log: an object with keys hello"),
        ("number.json", b"42", "not a CloudTrail log: a JSON int"),
    ],
)
def test_unreadable_files_give_one_line_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    records, problems = read(path)
    assert records == []
    [problem] = problems
    assert str(problem).startswith(f"{path}: {message}")
    assert "\n" not in str(problem)


def test_a_bad_file_does_not_stop_the_others(tmp_path):
    bad = tmp_path / "a.json.gz"
    bad.write_bytes(b"plain text")
    good = write_log(tmp_path / "b.json", RECORDS)
    records, problems = read(bad, good, tmp_path / "missing.json")
    assert len(records) == 2
    assert [p.message for p in problems] == ["named .gz but is not gzip-compressed", "no such file or directory"]


def test_non_object_records_are_reported_by_index(tmp_path):
    path = write_log(tmp_path / "mixed.json", [RECORDS[0], 7, "not json", None])
    records, problems = read(path)
    assert len(records) == 1
    assert [(p.index, p.message.split(":")[0]) for p in problems] == [
        (1, "record is a JSON int, not an object"),
        (2, "malformed embedded JSON"),
        (3, "record is a JSON NoneType, not an object"),
    ]


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "log.json"
    path.write_bytes(gzip.compress(json.dumps({"Records": RECORDS}).encode()))
    records, _ = read(path)
    assert len(records) == 2


def test_a_gzip_file_of_several_members_is_read_whole(tmp_path):
    # `cat a.json.gz b.json.gz` makes one valid gzip file of two members: JSON Lines survive it.
    path = tmp_path / "joined.jsonl.gz"
    path.write_bytes(b"".join(gzip.compress((json.dumps(record) + "\n").encode()) for record in RECORDS))
    records, problems = read(path)
    assert [r.data for r in records] == RECORDS and problems == []


def test_a_gzip_file_cut_short_says_so(tmp_path):
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": RECORDS}).encode())[:-12])
    _, [problem] = read(path)
    assert problem.message == (
        "corrupt or truncated gzip (Compressed file ended before the end-of-stream marker was reached)"
    )
