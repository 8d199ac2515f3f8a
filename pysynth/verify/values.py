"""Values during a replay: texts, comparisons, paths, the records calls come from and the ids
calls created."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pysynth.botomodels import idempotency_tokens
from pysynth.facts import MIN_EMBEDDED_LENGTH
from pysynth.ingest.events import Event
from pysynth.model import GlobalRef, IndexRef, InputRef, ItemRef, Output, OutputRef, RecordRef, Template
from pysynth.paths import canonical_json, list_selector, parse_path, parse_selector, path_text, strings_of, value_at
from pysynth.render.ssm import ssm_reference
from pysynth.verify.problems import MESSAGE_VALUE_LENGTH, VALUE_DIFFERS

# The references a request may hold; a Template holds them among its text.
REFERENCES = (InputRef, OutputRef, GlobalRef, ItemRef, IndexRef)
# An element named in a message ("EachBucket iteration 3 (logs-c)") is clipped to this length.
ELEMENT_TEXT_LENGTH = 40

# --------------------------------------------------------------------------- values


class Absent:
    """No value at all: a member one side has and the other does not."""

    def __repr__(self) -> str:
        return "nothing"


ABSENT = Absent()


@dataclass(frozen=True, slots=True)
class Unknown:
    """A reference the replay cannot give a value. ``reported``: a problem already says why, so
    places that use it need no problem of their own."""

    why: str
    reported: bool = False


@dataclass(slots=True)
class Finding:
    kind: str  # VALUE_DIFFERS or SECRET_LITERAL
    path: str
    expected: object
    found: object
    source: object = None  # the reference the found value came from

    @property
    def concrete(self) -> bool:
        """A difference in actual values, not a reference the replay could not resolve."""
        return self.kind == VALUE_DIFFERS and not isinstance(self.found, Unknown)


def same(found: object, expected: object) -> bool:
    if isinstance(expected, datetime) and isinstance(found, str):
        try:
            return datetime.fromisoformat(found.replace("Z", "+00:00")) == expected
        except ValueError:
            return False
    if isinstance(found, bool) or isinstance(expected, bool):
        return found is expected
    if isinstance(found, (int, float)) and isinstance(expected, (int, float)):
        return found == expected
    return type(found) is type(expected) and found == expected


def text_of(value: object) -> str:
    """A value as SSM puts it into a string: text as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def show(value: object) -> str:
    if value is ABSENT:
        return "nothing"
    if isinstance(value, (*REFERENCES, Template)):
        return reference_text(value)
    text = json.dumps(value, ensure_ascii=False, default=shown_inside)
    return text if len(text) <= MESSAGE_VALUE_LENGTH else text[:MESSAGE_VALUE_LENGTH - 1] + "…"


def shown_inside(value: object) -> str:
    """References and timestamps inside a list or map shown in a message."""
    return reference_text(value) if isinstance(value, (*REFERENCES, Template)) else str(value)


def show_pair(expected: object, found: object) -> tuple[str, str]:
    """Both values for a message; long texts from a little before where they first differ."""
    if isinstance(expected, str) and isinstance(found, str) and max(len(expected), len(found)) > MESSAGE_VALUE_LENGTH:
        start = next((i for i, (a, b) in enumerate(zip(expected, found)) if a != b), min(len(expected), len(found)))
        start = max(0, start - 20)
        return show(("…" if start else "") + expected[start:]), show(("…" if start else "") + found[start:])
    return show(expected), show(found)


def reference_text(reference) -> str:
    """A reference as SSM writes it (one reference syntax: ``render.ssm.ssm_reference``); a template
    as the JSON string it stands for."""
    if isinstance(reference, Template):
        return json.dumps("".join(part if isinstance(part, str) else ssm_reference(part) for part in reference.parts),
                          ensure_ascii=False)
    return ssm_reference(reference)


def leaves(value: object, keys: tuple = ()):
    """(keys, leaf) for every leaf of a tree of dicts and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, keys + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, keys + (index,))
    else:
        yield keys, value


def references(request: dict):
    """(path, reference) for every distinct reference of a request, in templates too."""
    found = []
    for keys, leaf in leaves(request):
        parts = leaf.parts if isinstance(leaf, Template) else (leaf,)
        found += [(path_text(keys), part) for part in parts if isinstance(part, REFERENCES)]
    return list(dict.fromkeys(found))


def literal_texts(request: dict):
    """(path, text) for every literal string of a request, template text included."""
    for keys, leaf in leaves(request):
        parts = leaf.parts if isinstance(leaf, Template) else (leaf,)
        yield from ((path_text(keys), part) for part in parts if isinstance(part, str))


def at_path(value: object, path: str) -> object:
    """The value at an output path (``Instances[0].InstanceId``), or ABSENT."""
    keys = parse_path(path)
    return ABSENT if keys is None else value_at(value, keys, ABSENT)


def output_value(response: object, output: Output) -> object:
    """An output's value in a response, or ABSENT: a list output (``Buckets[*].Name``) is the list
    of every value it reaches, only of the elements that meet its condition, as SSM's selector
    (``paths.list_selector``) picks them."""
    if output.where is None:
        return at_path(response, output.path)
    try:
        keys = parse_selector(list_selector(output.path, output.where))
    except ValueError:
        return ABSENT
    return ABSENT if keys is None else value_at(response, keys)


def element_text(element: object) -> str:
    """A loop's element as a message names it: text as is, anything else as JSON, clipped."""
    text = text_of(element)
    return text if len(text) <= ELEMENT_TEXT_LENGTH else text[:ELEMENT_TEXT_LENGTH - 1] + "…"


def expected_request(event: Event) -> dict:
    """The call's parameters without the top-level idempotency tokens botocore fills in afresh.
    Only top-level members are left out and the replay never changes a request, so the nested
    values are the log's own, not copies."""
    request = dict(event.call.params)
    for member in idempotency_tokens(event.call.service, event.call.operation):
        request.pop(member, None)
    return request


def unlogged_reason(event: Event, path: str) -> str:
    if path in event.call.hidden:
        return "CloudTrail hid it"
    return f"CloudTrail never logs it, and {event.call.service} {event.call.operation} needs it"


def record_ref(event: Event) -> RecordRef:
    return RecordRef(file=event.file, index=event.index, event_id=event.event_id, time=event.time)


def record_text(record: RecordRef | Event) -> str:
    return f"{record.file} record {record.index}" + (f" ({record.time})" if record.time else "")


def records_text(records: list[RecordRef]) -> str:
    return ", ".join(f"{record.file} record {record.index}" for record in records) or "no record"


def value_key(value: object) -> str:
    return canonical_json(value)


def created_ids(calls: list[Event], runtime: set[str]) -> dict[str, int]:
    """Ids first seen in the response of a call, in no earlier request -> that call: what the call
    created. An id is text of six characters or more with a digit in it, or an ARN; the enums and
    flags of a response are plain words. The session's account id and region show up in responses
    too, but no call created them."""
    seen: set[str] = set()
    created: dict[str, int] = {}
    for number, event in enumerate(calls):
        if event.read_only:
            continue  # a read shows what existed; it creates nothing
        seen |= strings_of(event.call.params)
        new = strings_of(event.call.response) - seen
        seen |= new
        created.update((value, number) for value in new if value not in runtime and is_id(value))
    return created


def is_id(text: str) -> bool:
    return text.startswith("arn:") or (len(text) >= MIN_EMBEDDED_LENGTH and any(char.isdigit() for char in text))
