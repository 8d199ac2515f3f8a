"""CloudTrail trails where they live: the log objects under ``s3://BUCKET/PREFIX``.

CloudTrail delivers to ``AWSLogs/[<org id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/``.
Keys are listed folder by folder where the layout lets the selection narrow them (accounts,
regions, days), and with one flat listing below the point where nothing narrows any more. A day
folder holds the files delivered that day, up to about a quarter of an hour after their records,
so the day after ``--until`` is read too. Credentials, region and endpoint come from boto3's usual
chain (``AWS_PROFILE``, ``AWS_ENDPOINT_URL``…).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

SCHEME = "s3://"
LAYOUT_ROOT = "AWSLogs"
LOG_FOLDER = "CloudTrail"
# Records reach S3 within about 15 minutes of the call: a file in the next day's folder may hold them.
DELIVERY_SLACK = timedelta(days=1)


class S3Error(Exception):
    """A location that cannot be listed or holds no log file."""


@dataclass(frozen=True, slots=True)
class KeyHints:
    """What the selection says about the keys worth listing; None means no limit."""

    accounts: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    since: float | None = None
    until: float | None = None

    def narrows(self) -> bool:
        return any(value is not None for value in (self.accounts, self.regions, self.since, self.until))


def is_s3_url(name: str) -> bool:
    return name.startswith(SCHEME)


def split_url(url: str) -> tuple[str, str]:
    bucket, _, prefix = url[len(SCHEME):].partition("/")
    return bucket, prefix


# --------------------------------------------------------------------------- listing


def list_log_objects(url: str, hints: KeyHints, suffixes: tuple[str, ...]) -> Iterator[tuple[str, int]]:
    """``(s3://bucket/key, size)`` of every log object under ``url`` the hints leave in, in key order."""
    bucket, prefix = split_url(url)
    if not bucket:
        raise S3Error(f"{url}: no bucket named")
    listing = _Listing(_client(), bucket, hints, suffixes)
    found = False
    try:
        for key, size in listing.walk(prefix):
            found = True
            yield f"{SCHEME}{bucket}/{key}", size
    except Exception as error:  # noqa: BLE001 - botocore's errors, told apart by what they say
        raise S3Error(f"{url}: {describe_error(error)}") from None
    if not found:
        narrowed = " for the selected accounts, regions and times" if hints.narrows() else ""
        raise S3Error(f"{url}: no CloudTrail log files under this prefix{narrowed}")


class _Listing:
    def __init__(self, client, bucket: str, hints: KeyHints, suffixes: tuple[str, ...]):
        self.client = client
        self.bucket = bucket
        self.hints = hints
        self.suffixes = suffixes
        self.first_day, self.last_day = _day_range(hints)

    def walk(self, prefix: str) -> Iterator[tuple[str, int]]:
        if not self._may_narrow_below(prefix):
            for key, size in self._pages(prefix, delimiter=None):
                if key.endswith(self.suffixes) and self._wanted(key.split("/")[:-1]):
                    yield key, size
            return
        folders = []
        for key, size in self._pages(prefix, delimiter="/", folders=folders):
            if key.endswith(self.suffixes) and self._wanted(key.split("/")[:-1]):
                yield key, size
        for folder in folders:
            if self._wanted(folder.rstrip("/").split("/")):
                yield from self.walk(folder)

    def _pages(self, prefix: str, delimiter: str | None, folders: list | None = None) -> Iterator[tuple[str, int]]:
        arguments = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            arguments["Delimiter"] = delimiter
        for page in self.client.get_paginator("list_objects_v2").paginate(**arguments):
            for item in page.get("Contents", ()):
                yield item["Key"], item.get("Size", 0)
            if folders is not None:
                folders.extend(common["Prefix"] for common in page.get("CommonPrefixes", ()))

    def _may_narrow_below(self, prefix: str) -> bool:
        """Whether a folder below ``prefix`` may be left out: otherwise one flat listing is cheaper."""
        hints = self.hints
        if not hints.narrows():
            return False
        layout = _layout(prefix.split("/")[:-1])  # only the complete folder names
        if layout is None:
            return True  # AWSLogs may lie below
        return (
            (hints.accounts is not None and not layout.account)
            or (hints.regions is not None and not layout.region)
            or ((hints.since is not None or hints.until is not None) and len(layout.date_parts) < 3)
        )

    def _wanted(self, parts: list[str]) -> bool:
        """Whether a folder (its path as parts) may hold records the selection keeps."""
        layout = _layout(parts)
        if layout is None:
            return True
        hints = self.hints
        if layout.account and hints.accounts is not None and layout.account not in hints.accounts:
            return False
        if layout.service and layout.service != LOG_FOLDER:
            return False  # CloudTrail-Digest, CloudTrail-Insight: no API calls
        if layout.region and hints.regions is not None and layout.region not in hints.regions:
            return False
        span = layout.day_span()
        if span is not None:
            first, last = span
            if (self.last_day and first > self.last_day) or (self.first_day and last < self.first_day):
                return False
        return True


@dataclass(slots=True)
class _Layout:
    """The parts of CloudTrail's layout a path has, from ``AWSLogs`` down."""

    account: str | None = None
    service: str | None = None
    region: str | None = None
    date_parts: tuple[int, ...] = ()
    def day_span(self) -> tuple[date, date] | None:
        parts = self.date_parts
        try:
            if len(parts) == 1:
                return date(parts[0], 1, 1), date(parts[0], 12, 31)
            if len(parts) == 2:
                first = date(parts[0], parts[1], 1)
                return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            if len(parts) == 3:
                day = date(*parts)
                return day, day
        except ValueError:
            return None
        return None


def _layout(parts: list[str]) -> _Layout | None:
    try:
        root = len(parts) - 1 - parts[::-1].index(LAYOUT_ROOT)
    except ValueError:
        return None
    rest = parts[root + 1:]
    if rest and rest[0].startswith("o-"):  # an organization trail: AWSLogs/<org id>/<account>/...
        rest = rest[1:]
    layout = _Layout()
    if rest:
        layout.account = rest[0]
    if len(rest) > 1:
        layout.service = rest[1]
    if len(rest) > 2:
        layout.region = rest[2]
    digits = []
    for part in rest[3:6]:
        if not part.isdigit():
            break
        digits.append(int(part))
    layout.date_parts = tuple(digits)
    return layout


def _day_range(hints: KeyHints) -> tuple[date | None, date | None]:
    first = _day(hints.since)
    last = _day(hints.until)
    return first, (last + DELIVERY_SLACK if last else None)


def _day(epoch: float | None) -> date | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).date()


# --------------------------------------------------------------------------- reading

# Objects up to this size are fetched whole, several at a time; larger ones are streamed.
FETCH_MAX_BYTES = 4 * 1024 * 1024
FETCH_THREADS = 16


def fetch_small_objects(urls: list[str]) -> dict:
    """The bytes of each object (or a ``ReadProblem``), fetched by several threads at once."""
    if not urls:
        return {}
    from concurrent.futures import ThreadPoolExecutor

    client = _client()  # made here: creating clients is not safe across threads
    with ThreadPoolExecutor(min(FETCH_THREADS, len(urls))) as pool:
        return dict(zip(urls, pool.map(lambda url: _fetch(client, url), urls)))


def _fetch(client, url: str):
    from pysynth.ingest.parsing import ReadProblem

    bucket, key = split_url(url)
    try:
        response = client.get_object(Bucket=bucket, Key=key)
        with response["Body"] as body:
            return body.read()
    except Exception as error:  # noqa: BLE001 - botocore's errors, told apart by what they say
        return ReadProblem(url, None, f"cannot read: {describe_error(error)}")



def read_object(url: str, parse: Callable) -> Iterator:
    """The records of one object, parsed by ``parse(name, stream, size)``; a problem if it cannot be read."""
    from pysynth.ingest.parsing import ReadProblem

    bucket, key = split_url(url)
    try:
        response = _client().get_object(Bucket=bucket, Key=key)
    except Exception as error:  # noqa: BLE001 - botocore's errors, told apart by what they say
        yield ReadProblem(url, None, f"cannot read: {describe_error(error)}")
        return
    body = response["Body"]
    try:
        yield from parse(url, body, response.get("ContentLength"))
    except Exception as error:  # noqa: BLE001 - a connection lost while reading
        yield ReadProblem(url, None, f"cannot read: {describe_error(error)}")
    finally:
        body.close()


def describe_error(error: Exception) -> str:
    """botocore's error as one line a user can act on."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket",):
            return "no such bucket"
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            return "access denied"
        if code in ("NoSuchKey", "404"):
            return "no such key"
        message = response.get("Error", {}).get("Message") or code
        return f"{code}: {message}" if message != code else code
    name = type(error).__name__
    if name == "NoCredentialsError":
        return "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    return " ".join(str(error).split()) or name


_clients: dict[tuple, object] = {}


def _client():
    """One S3 client per process (a client is not safe to share across a fork) and endpoint."""
    key = (os.getpid(), os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_ENDPOINT_URL_S3"))
    client = _clients.get(key)
    if client is None:
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=16)
        client = _clients[key] = boto3.session.Session().client("s3", config=config)
    return client
