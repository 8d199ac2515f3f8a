"""Reading: the inputs a user names (files, directories, tar archives, standard input and
``s3://BUCKET/PREFIX`` locations) as a list of log sources, and the records of one source.

Sources are read one at a time and records are yielded as they are parsed, so memory does not
grow with the number of files. Problems never raise, except for an input that names nothing at
all (``InputError``): they are yielded as ``ReadProblem`` items naming the file and, where there
is one, the record.
"""

from __future__ import annotations

import os
import sys
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pysynth.ingest import s3
from pysynth.ingest.parsing import RawRecord, ReadProblem, records_of_bytes, records_of_stream

STDIN = "-"
LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".gz", ".tar", ".tgz")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")

__all__ = ["STDIN", "InputError", "RawRecord", "ReadProblem", "Source", "expand_inputs", "read_inputs", "read_source",
           "read_sources"]


class InputError(Exception):
    """An input that names nothing to read (no such bucket, an empty prefix): one line for the user."""


@dataclass(frozen=True, slots=True)
class Source:
    """One log file to read: a path, ``-``, or ``s3://bucket/key``; ``size`` in bytes, 0 when unknown."""

    name: str
    size: int = 0


def expand_inputs(paths: Iterable[str], hints: s3.KeyHints | None = None) -> Iterator[Source | ReadProblem]:
    """Files named directly, log files found recursively under directories in name order, and the
    log objects under S3 locations (narrowed by ``hints``). Raises ``InputError`` for an S3
    location that cannot be listed or holds no log file."""
    for given in paths:
        if given == STDIN:
            yield Source(STDIN)
        elif s3.is_s3_url(given):
            try:
                for key, size in s3.list_log_objects(given, hints or s3.KeyHints(), LOG_SUFFIXES):
                    yield Source(key, size)
            except s3.S3Error as error:
                raise InputError(str(error)) from None
        else:
            yield from _expand_local(given)


def _expand_local(given: str) -> Iterator[Source | ReadProblem]:
    path = Path(given)
    if path.is_dir():
        found = False
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(LOG_SUFFIXES):
                    found = True
                    yield _local_source(str(Path(root) / name))
        if not found:
            yield ReadProblem(given, None, "directory holds no .json or .json.gz files")
    elif path.exists():
        yield _local_source(given)
    else:
        yield ReadProblem(given, None, "no such file or directory")


def _local_source(name: str) -> Source:
    try:
        return Source(name, os.path.getsize(name))
    except OSError:
        return Source(name)


def read_inputs(paths: Iterable[str]) -> Iterator[RawRecord | ReadProblem]:
    """Every record of every input, in input order, with a problem item for whatever is unreadable."""
    for item in expand_inputs(paths):
        if isinstance(item, ReadProblem):
            yield item
        else:
            yield from read_source(item)


def read_sources(sources: Iterable[Source]) -> Iterator[Iterator[RawRecord | ReadProblem]]:
    """The records of each source in turn. Small S3 objects are fetched several at a time, since
    each request waits mostly on the network."""
    sources = list(sources)
    fetched = s3.fetch_small_objects([source.name for source in sources if s3.is_s3_url(source.name)
                                      and 0 < source.size < s3.FETCH_MAX_BYTES])
    for source in sources:
        if source.name in fetched:
            yield _fetched_records(source.name, fetched.pop(source.name))
        else:
            yield read_source(source)


def _fetched_records(name: str, content: bytes | ReadProblem) -> Iterator[RawRecord | ReadProblem]:
    if isinstance(content, ReadProblem):
        yield content
    else:
        yield from records_of_bytes(name, content)


def read_source(source: Source) -> Iterator[RawRecord | ReadProblem]:
    name = source.name
    if s3.is_s3_url(name):
        yield from s3.read_object(name, records_of_stream)
    elif name == STDIN:
        yield from records_of_stream(name, sys.stdin.buffer, None)
    elif name.endswith(TAR_SUFFIXES):
        yield from _read_tar(name)
    else:
        try:
            stream = open(name, "rb")  # noqa: SIM115 - closed below, once its records are read
        except OSError as error:
            yield ReadProblem(name, None, f"cannot read: {error.strerror or error}")
            return
        with stream:
            try:
                yield from records_of_stream(name, stream, source.size or os.fstat(stream.fileno()).st_size)
            except OSError as error:
                yield ReadProblem(name, None, f"cannot read: {error.strerror or error}")


def _read_tar(name: str) -> Iterator[RawRecord | ReadProblem]:
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
                    yield from records_of_stream(member_name, content, member.size)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        yield ReadProblem(name, None, f"not a readable tar archive ({error})")
