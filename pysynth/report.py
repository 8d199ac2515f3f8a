"""Terminal views of ingested events: the events table, the summary and the principals table.

Values from logs are untrusted: they reach rich only as ``Text`` objects, never as markup.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import date, datetime

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pysynth.ingest.events import Event
from pysynth.ingest.select import Ingested

TELLING_SUFFIXES = ("Name", "Id", "Ids", "Arn", "Bucket", "Key", "Type", "CidrBlock", "Names")
MAX_VALUE_WIDTH = 48


def events_table(events: list[Event], title: str) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    for column in ("time", "principal", "service", "operation", "parameters", "status"):
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(
            Text(event.time or "?"),
            Text(_short_principal(event)),
            Text(event.service or event.event_source or "?"),
            Text(event.operation or event.event_name or "?"),
            Text(telling_parameters(event)),
            Text("kept", style="green") if event.kept else Text(event.reason or "dropped", style="yellow"),
        )
    return table


def telling_parameters(event: Event, limit: int = 3) -> str:
    """The few request members that identify what a call touched, as ``Name=value``."""
    if not event.call:
        return ""
    hidden = set(event.call.hidden)
    scalars = [(name, value) for name, value in event.call.params.items() if isinstance(value, (str, int, float))]
    scalars.sort(key=lambda item: (item[0] not in hidden, not item[0].endswith(TELLING_SUFFIXES)))
    shown = [f"{name}={'<hidden>' if name in hidden else _clip(str(value))}" for name, value in scalars[:limit]]
    lists = [name for name, value in event.call.params.items() if isinstance(value, (list, dict))]
    if len(shown) < limit and lists:
        shown.append("+" + ",".join(lists[: limit - len(shown) + 1]))
    return " ".join(shown)


def summary_table(ingested: Ingested) -> Table:
    events = ingested.events
    kept = sum(event.kept for event in events)
    table = Table(title="summary", show_header=True)
    table.add_column("records")
    table.add_column("count", justify="right")
    table.add_row("read", str(len(events)))
    table.add_row(Text("kept", style="green"), str(kept))
    for reason, count in sorted(ingested.drop_counts().items(), key=lambda item: -item[1]):
        table.add_row(Text(f"dropped: {reason}"), str(count))
    if ingested.problems:
        table.add_row(Text("unreadable files or parts", style="red"), str(len(ingested.problems)))
    return table


def principals_table(writes: Counter) -> Table:
    table = Table(title="principals with write calls")
    table.add_column("principal")
    table.add_column("write calls", justify="right")
    for principal, count in writes.most_common():
        table.add_row(Text(principal), str(count))
    return table


def print_problems(console: Console, ingested: Ingested) -> None:
    for problem in ingested.problems:
        console.print(Text(f"warning: {problem}", style="red"))
    for event in ingested.events:
        if event.reason and event.reason.startswith(("unreadable record", "malformed record")):
            console.print(Text(f"warning: {event.file} record {event.index}: {event.reason}", style="red"))


def json_line(event: Event) -> bytes:
    """One ``events --json`` line, UTF-8, with its newline."""
    document = event.to_json()
    try:
        return orjson.dumps(document, default=_json_value, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        # orjson stops at integers beyond 64 bits; the standard library takes any.
        return (json.dumps(document, ensure_ascii=False, default=_json_value) + "\n").encode()


def _json_value(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _short_principal(event: Event) -> str:
    principal = event.principal
    return principal.user_name or principal.session_name or principal.label


def _clip(value: str) -> str:
    value = value.replace("\n", "\\n")
    return value if len(value) <= MAX_VALUE_WIDTH else value[: MAX_VALUE_WIDTH - 1] + "…"
