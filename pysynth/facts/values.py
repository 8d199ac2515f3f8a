"""Values of a session: their ids and texts, and what the runtime supplies (account id, region,
partition), with the patterns the analysis recognises values by."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from datetime import datetime


from pysynth.ingest.events import Event

IDENTIFIER_SUFFIXES = ("Name", "Names", "Id", "Ids", "Arn", "Arns", "Bucket", "Identifier", "Alias", "Key")
# The same words as whole lower-case member names (``name``, ``id``, ``arn``), as REST APIs spell them.
IDENTIFIER_MEMBERS = frozenset(suffix[0].lower() + suffix[1:] for suffix in IDENTIFIER_SUFFIXES)
# Key/value data (tags, filters, environment variables) names nothing: told by its shape, a map
# of scalars or a list of structures that pair a key with its value(s).
KEY_MEMBERS = frozenset(("key", "name"))
VALUE_MEMBERS = frozenset(("value", "values"))
RESOURCE_ID = re.compile(r"^[a-z][a-z0-9]{0,14}-[0-9a-f]{8,17}$")
AWS_MANAGED_ARN = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/")
ARN = re.compile(r"arn:aws[a-z-]*:[^\s\"',;]*")
ARN_PARTITION = re.compile(r"^arn:(aws[a-z-]*):")
# An availability zone is its region and a letter: "us-east-1a" runs elsewhere as "<region>a".
AVAILABILITY_ZONE = re.compile(r"(?:^|-)([a-z]{2}(?:-[a-z]+)+-\d)[a-z]$")
ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
# A URL whose path starts with an account id names a resource of that account next: an SQS queue.
ACCOUNT_URL = re.compile(r"https://[^/\s\"']+/([0-9]{12})/([^/\s\"'?#]+)")
RESOURCE_TYPE = re.compile(r"[:/]")
RESOURCE_WILDCARD = re.compile(r"[*?$]")
# Where embedded ids are looked for inside longer strings: tokens of ARNs, documents and paths.
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
MIN_EMBEDDED_LENGTH = 6
SCALAR_TYPES = {"string", "integer", "long", "boolean", "float", "double", "timestamp", "short", "byte"}
NUMBER_TYPES = {"integer", "long", "float", "double", "short", "byte"}


def value_key(value: object) -> tuple:
    """Equal values share one id; a string "1" and the number 1 do not."""
    if value.__class__ is str:  # most values: spare them the other tests
        return ("string", value)
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, (list, tuple)):
        return ("list", tuple(value_key(item) for item in value))
    if isinstance(value, dict):
        # A whole map or structure: equal whatever order its members were written in.
        return ("map", tuple(sorted((str(key), value_key(item)) for key, item in value.items())))
    if isinstance(value, datetime):
        return ("timestamp", value.isoformat())
    if isinstance(value, (bytes, bytearray)):
        return ("blob", bytes(value))
    return ("string", str(value))


def cidr_prefix(value: object) -> int | None:
    """The prefix length of an IPv4 or IPv6 CIDR block (``10.0.0.0/16``: 16), or None."""
    if not isinstance(value, str) or "/" not in value or len(value) > 64:
        return None
    try:
        return ipaddress.ip_network(value, strict=False).prefixlen
    except ValueError:
        return None


def value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return json.dumps([value_text(item) for item in value], ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=value_text)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


def runtime_values(calls: list[Event]) -> dict[str, str]:
    """The account id, partition and region the session ran in, from the callers' ARNs and the
    records' regions (the most common one)."""
    found: dict[str, str] = {}
    regions: dict[str, int] = defaultdict(int)
    for event in calls:
        arn = event.principal.arn or ""
        parts = arn.split(":")
        if len(parts) > 4 and parts[0] == "arn":
            found.setdefault("partition", parts[1])
            if ACCOUNT_ID.fullmatch(parts[4]):
                found.setdefault("account_id", parts[4])
        if event.region:
            regions[event.region] += 1
    if regions:
        found["region"] = max(regions, key=regions.get)
    return found


def runtime_kind(value: object, runtime: dict[str, str]) -> str | None:
    if isinstance(value, str):
        for kind in ("account_id", "region"):
            if runtime.get(kind) == value:
                return kind
    return None
