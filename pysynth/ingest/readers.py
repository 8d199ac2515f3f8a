"""Readers: turn files, directories and standard input into CloudTrail records.

Accepted containers, detected from the content rather than the file name:
``{"Records": [...]}`` (CloudTrail's S3 delivery), a bare JSON array of records, one bare record,
JSON Lines (CloudTrail Lake and Athena exports), and ``aws cloudtrail lookup-events`` output
(records as JSON strings in ``Events[].CloudTrailEvent``); each plain or gzip-compressed.
Tar archives of log files (``.tar``, ``.tar.gz``, ``.tgz``) are read member by member.

Files are read one at a time and records are yielded as they are decoded, so memory does not
grow with the number of files. Problems never raise: they are yielded as ``ReadProblem`` items
naming the file and, where there is one, the record.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
STDIN = "-"
LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".gz", ".tar", ".tgz")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_decoder = json.JSONDecoder()


@dataclass(slots=True)
class RawRecord:
    """One record as decoded, with where it came from (``index`` counts from 0 in its file)."""

    file: str
    index: int
    data: dict


@dataclass(slots=True)
class ReadProblem:
    """Something in the input that could not be read; ``index`` is None for a whole file."""

    file: str
    index: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.index is None else f"{self.file} record {self.index}"
        return f"{where}: {self.message}"


def expand_inputs(paths: Iterable[str]) -> Iterator[str | ReadProblem]:
    """Files named directly, and log files found recursively under directories, in name order."""
    for given in paths:
        if given == STDIN:
            yield STDIN
            continue
        path = Path(given)
        if path.is_dir():
            found = False
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(LOG_SUFFIXES):
                        found = True
                        yield str(Path(root) / name)
            if not found:
                yield ReadProblem(given, None, "directory holds no .json or .json.gz files")
        elif path.exists():
            yield given
        else:
            yield ReadProblem(given, None, "no such file or directory")


def read_inputs(paths: Iterable[str]) -> Iterator[RawRecord | ReadProblem]:
    """Every record of every input, in input order, with a problem item for whatever is unreadable."""
    for item in expand_inputs(paths):
        if isinstance(item, ReadProblem):
            yield item
        else:
            yield from read_file(item)


def read_file(name: str) -> Iterator[RawRecord | ReadProblem]:
    if name.endswith(TAR_SUFFIXES):
        yield from read_tar(name)
        return
    try:
        data = sys.stdin.buffer.read() if name == STDIN else Path(name).read_bytes()
    except OSError as error:
        yield ReadProblem(name, None, f"cannot read: {error.strerror or error}")
        return
    records = read_bytes(name, data)
    del data  # read_bytes holds the only reference, and drops it once the bytes are parsed
    yield from records


def read_tar(name: str) -> Iterator[RawRecord | ReadProblem]:
    """Log files inside a tar archive, in member-name order; each is named ``archive!member``."""
    try:
        with tarfile.open(name, "r:*") as archive:
            members = sorted(
                (member for member in archive.getmembers() if member.isfile()), key=lambda member: member.name
            )
            for member in members:
                member_name = f"{name}!{member.name}"
                if not member.name.endswith(LOG_SUFFIXES):
                    yield ReadProblem(member_name, None, "skipped: not a .json or .json.gz file")
                    continue
                content = archive.extractfile(member)
                if content is not None:
                    yield from read_bytes(member_name, content.read())
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        yield ReadProblem(name, None, f"not a readable tar archive ({error})")


def read_bytes(name: str, data: bytes) -> Iterator[RawRecord | ReadProblem]:
    if data[:2] == GZIP_MAGIC:
        try:
            data = _gunzip(data)
        except (OSError, EOFError, zlib.error) as error:
            yield ReadProblem(name, None, f"corrupt or truncated gzip ({error})")
            return
    elif name.endswith(".gz"):
        yield ReadProblem(name, None, "named .gz but is not gzip-compressed")
        return
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    if not data or data.isspace():
        yield ReadProblem(name, None, "empty file")
        return
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        # The slow path, for damaged files and JSON Lines: the standard library's decoder says
        # where things went wrong, and text is needed to salvage what is readable.
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            yield ReadProblem(name, None, f"not UTF-8 text (binary file?): byte {error.start}")
            return
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            yield from _read_damaged(name, text, error)
            return
        except RecursionError:
            yield ReadProblem(name, None, "JSON nested too deeply")
            return
    else:
        del data  # as large as the file: not kept while its records are used
    yield from _records_of_document(name, document)


def _gunzip(data: bytes) -> bytes:
    """``gzip.decompress``, a third faster for the usual file of one gzip member."""
    decompressor = zlib.decompressobj(wbits=31)  # a gzip header and trailer around deflate data
    try:
        content = decompressor.decompress(data)
        if decompressor.eof and not decompressor.unused_data:
            return content
    except zlib.error:
        pass
    # Several members, or damaged data: the gzip module reads the former and describes the latter.
    return gzip.decompress(data)


def _records_of_document(name: str, document: object) -> Iterator[RawRecord | ReadProblem]:
    if isinstance(document, list):
        yield from _records_of_list(name, document)
    elif isinstance(document, dict):
        if "Records" in document:
            records = document["Records"]
            if isinstance(records, list):
                yield from _records_of_list(name, records)
            else:
                yield ReadProblem(name, None, '"Records" is not a list')
        elif "Events" in document:
            yield from _records_of_lookup_events(name, document["Events"])
        elif "eventName" in document or "eventSource" in document or "eventVersion" in document:
            yield RawRecord(name, 0, document)
        elif "digestStartTime" in document:
            yield ReadProblem(name, None, "CloudTrail digest file, not a log file: no records")
        else:
            keys = ", ".join(sorted(document)[:5]) or "none"
            yield ReadProblem(name, None, f"not a CloudTrail log: an object with keys {keys}")
    else:
        yield ReadProblem(name, None, f"not a CloudTrail log: a JSON {type(document).__name__}")


def _records_of_list(name: str, records: list) -> Iterator[RawRecord | ReadProblem]:
    for index, record in enumerate(records):
        if isinstance(record, dict):
            yield RawRecord(name, index, record)
        elif isinstance(record, str):
            # Athena and some exporters keep each record as a JSON string.
            yield _record_from_string(name, index, record)
        else:
            yield ReadProblem(name, index, f"record is a JSON {type(record).__name__}, not an object")


def _records_of_lookup_events(name: str, events: object) -> Iterator[RawRecord | ReadProblem]:
    if not isinstance(events, list):
        yield ReadProblem(name, None, '"Events" is not a list')
        return
    for index, event in enumerate(events):
        embedded = event.get("CloudTrailEvent") if isinstance(event, dict) else None
        if isinstance(embedded, str):
            yield _record_from_string(name, index, embedded)
        else:
            yield ReadProblem(name, index, "lookup-events entry without a CloudTrailEvent string")


def _record_from_string(name: str, index: int, text: str) -> RawRecord | ReadProblem:
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return ReadProblem(name, index, f"malformed embedded JSON: {error.msg} at char {error.pos}")
    if not isinstance(record, dict):
        return ReadProblem(name, index, "embedded record is not a JSON object")
    return RawRecord(name, index, record)


def _read_damaged(name: str, text: str, error: json.JSONDecodeError) -> Iterator[RawRecord | ReadProblem]:
    """A document that is not one JSON value: JSON Lines, or a log cut short.

    JSON Lines is told apart by its first line parsing on its own. Otherwise the complete records
    before the damage are salvaged and the damage is reported once, with its position.
    """
    first_line_end = text.find("\n")
    if first_line_end > 0 and _parses(text[:first_line_end]):
        yield from _read_json_lines(name, text)
        return
    salvaged = 0
    for item in _salvage_records(name, text):
        salvaged += isinstance(item, RawRecord)
        yield item
    # A log cut short (an interrupted download or copy) no longer ends with its closing bracket.
    kind = "malformed" if text.rstrip().endswith(("}", "]")) else "truncated"
    tail = f" after {salvaged} complete records" if salvaged else ""
    yield ReadProblem(name, None, f"{kind} JSON ({error.msg} at line {error.lineno} column {error.colno}){tail}")


def _read_json_lines(name: str, text: str) -> Iterator[RawRecord | ReadProblem]:
    index = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield ReadProblem(name, index, f"malformed JSON line ({error.msg} at column {error.colno})")
        else:
            if isinstance(record, dict):
                yield RawRecord(name, index, record)
            else:
                yield ReadProblem(name, index, f"line is a JSON {type(record).__name__}, not an object")
        index += 1


def _salvage_records(name: str, text: str) -> Iterator[RawRecord]:
    """Complete records of a ``{"Records": [`` or ``[`` document up to where it breaks."""
    marker = text.find('"Records"')
    start = text.find("[", marker if marker >= 0 else 0)
    if start < 0:
        return
    position = _skip_space(text, start + 1)
    index = 0
    while position < len(text):
        try:
            record, position = _decoder.raw_decode(text, position)
        except (json.JSONDecodeError, RecursionError):
            return
        if isinstance(record, dict):
            yield RawRecord(name, index, record)
        index += 1
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
        else:
            return


def _parses(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
