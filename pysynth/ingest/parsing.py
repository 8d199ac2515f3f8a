"""Parsing: the bytes of one log file into CloudTrail records.

Accepted containers, detected from the content rather than the file name:
``{"Records": [...]}`` (CloudTrail's S3 delivery), a bare JSON array of records, one bare record,
JSON Lines (CloudTrail Lake and Athena exports), and ``aws cloudtrail lookup-events`` output
(records as JSON strings in ``Events[].CloudTrailEvent``); each plain or gzip-compressed.

A small file is parsed whole with orjson, the fastest way. A large one is parsed as a stream
(JSON Lines line by line, a single document with ijson), so memory does not grow with the file.
Problems never raise: they are yielded as ``ReadProblem`` items naming the file and, where there
is one, the record; the complete records before any damage are still yielded.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import ijson
import orjson

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
# Files at least this large (compressed files: a tenth of it, since CloudTrail's JSON compresses
# about tenfold) are parsed as a stream; smaller ones whole, which is faster.
STREAM_MIN_BYTES = 32 * 1024 * 1024
# What is looked at to tell the container of a streamed file: more than the longest record.
HEAD_BYTES = 1024 * 1024
_decoder = json.JSONDecoder()
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


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


def records_of_stream(name: str, stream: BinaryIO, size: int | None) -> Iterator[RawRecord | ReadProblem]:
    """The records of a file open for reading; ``size`` (None when unknown) chooses how to parse."""
    head = stream.read(2)
    compressed = head == GZIP_MAGIC
    if size is not None and size * (10 if compressed else 1) < STREAM_MIN_BYTES:
        yield from records_of_bytes(name, head + stream.read())
        return
    if compressed:
        stream = gzip.GzipFile(fileobj=_Prefixed(head, stream), mode="rb")
    elif name.endswith(".gz"):
        yield ReadProblem(name, None, "named .gz but is not gzip-compressed")
        return
    else:
        stream = _Prefixed(head, stream)
    try:
        yield from _records_of_large_stream(name, stream)
    except _GZIP_ERRORS as error:
        yield ReadProblem(name, None, f"corrupt or truncated gzip ({error})")


def records_of_bytes(name: str, data: bytes) -> Iterator[RawRecord | ReadProblem]:
    """The records of a whole file's bytes."""
    if data[:2] == GZIP_MAGIC:
        try:
            data = _gunzip(data)
        except _GZIP_ERRORS as error:
            yield ReadProblem(name, None, f"corrupt or truncated gzip ({error})")
            return
    elif name.endswith(".gz"):
        yield ReadProblem(name, None, "named .gz but is not gzip-compressed")
        return
    data = data.removeprefix(UTF8_BOM)
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


class _Prefixed(io.RawIOBase):
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _records_of_large_stream(name: str, stream: BinaryIO) -> Iterator[RawRecord | ReadProblem]:
    head = _read_up_to(stream, HEAD_BYTES)
    head = head.removeprefix(UTF8_BOM)
    rest = io.BufferedReader(_Prefixed(head, stream), buffer_size=HEAD_BYTES)
    start = head.lstrip()[:1]
    if not start:
        yield ReadProblem(name, None, "empty file")
    elif start == b"[":
        yield from _stream_items(name, rest, "item", _record_of_item)
    elif start == b"{" and _first_line_is_a_record(head):
        yield from _read_json_lines(name, rest)
    else:
        container = next((key for key in CONTAINERS if start == b"{" and f'"{key}"'.encode() in head), None)
        if container:
            yield from _stream_items(name, rest, f"{container}.item", CONTAINERS[container])
        else:  # a single record, or no log at all: small enough to read whole
            yield from records_of_bytes(name, rest.read())


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes, fewer only at the end: a raw stream's ``read`` may return less."""
    chunks, missing = [], size
    while missing > 0:
        chunk = stream.read(missing)
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _first_line_is_a_record(head: bytes) -> bool:
    """JSON Lines: the first line is a whole record on its own."""
    end = head.find(b"\n")
    if end < 0:
        return False
    try:
        first = orjson.loads(head[:end])
    except orjson.JSONDecodeError:
        return False
    return isinstance(first, dict) and "Records" not in first and "Events" not in first


def _stream_items(name: str, stream: BinaryIO, prefix: str, record_of) -> Iterator[RawRecord | ReadProblem]:
    index = 0
    try:
        for item in ijson.items(stream, prefix, use_float=True):
            yield record_of(name, index, item)
            index += 1
    except ijson.JSONError as error:
        message = " ".join(str(error).split())
        # A log cut short (an interrupted download or copy) ends before its closing bracket.
        kind = "truncated" if "premature eof" in message.lower() or "incomplete" in message.lower() else "malformed"
        tail = f" after {index} complete records" if index else ""
        yield ReadProblem(name, None, f"{kind} JSON ({message}){tail}")


def _record_of_item(name: str, index: int, item: object) -> RawRecord | ReadProblem:
    if isinstance(item, dict):
        return RawRecord(name, index, item)
    if isinstance(item, str):
        # Athena and some exporters keep each record as a JSON string.
        return _record_from_string(name, index, item)
    return ReadProblem(name, index, f"record is a JSON {type(item).__name__}, not an object")


def _record_of_lookup_event(name: str, index: int, event: object) -> RawRecord | ReadProblem:
    embedded = event.get("CloudTrailEvent") if isinstance(event, dict) else None
    if isinstance(embedded, str):
        return _record_from_string(name, index, embedded)
    return ReadProblem(name, index, "lookup-events entry without a CloudTrailEvent string")


# The keys of the documents that hold records: CloudTrail's delivery, and lookup-events output.
CONTAINERS = {"Records": _record_of_item, "Events": _record_of_lookup_event}


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
        for index, item in enumerate(document):
            yield _record_of_item(name, index, item)
    elif isinstance(document, dict):
        container = next((key for key in CONTAINERS if key in document), None)
        if container:
            items = document[container]
            if isinstance(items, list):
                record_of = CONTAINERS[container]
                for index, item in enumerate(items):
                    yield record_of(name, index, item)
            else:
                yield ReadProblem(name, None, f'"{container}" is not a list')
        elif "eventName" in document or "eventSource" in document or "eventVersion" in document:
            yield RawRecord(name, 0, document)
        elif "digestStartTime" in document:
            yield ReadProblem(name, None, "CloudTrail digest file, not a log file: no records")
        else:
            keys = ", ".join(sorted(document)[:5]) or "none"
            yield ReadProblem(name, None, f"not a CloudTrail log: an object with keys {keys}")
    else:
        yield ReadProblem(name, None, f"not a CloudTrail log: a JSON {type(document).__name__}")


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
        yield from _read_json_lines(name, io.BytesIO(text.encode()))
        return
    salvaged = 0
    for item in _salvage_records(name, text):
        salvaged += isinstance(item, RawRecord)
        yield item
    # A log cut short (an interrupted download or copy) no longer ends with its closing bracket.
    kind = "malformed" if text.rstrip().endswith(("}", "]")) else "truncated"
    tail = f" after {salvaged} complete records" if salvaged else ""
    yield ReadProblem(name, None, f"{kind} JSON ({error.msg} at line {error.lineno} column {error.colno}){tail}")


def _read_json_lines(name: str, lines: BinaryIO) -> Iterator[RawRecord | ReadProblem]:
    index = 0
    for line in lines:
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
    start = text.find("[", max(marker, 0))
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
