"""From kept calls to ASP facts: the heavy joins happen here, in Python, in time linear in the
session; the encodings only choose among the candidates found here.

Each kept write call's request is cut into slots (a scalar, a whole list of scalars, or an id,
account id or region inside a longer string), each response into outputs; every distinct value gets
one id. For each slot, the candidate outputs are the first call that showed its value and the most
recent earlier one: enough for every binding the encodings allow, and linear in size.
The fact schema is documented in ``asp/README.md``.
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import botocore.model

from pysynth import unlogged
from pysynth.botomodels import operation_model, resource_identifier_members
from pysynth.evidence import Failures, PollSeries, failures_before, poll_series, strings_of
from pysynth.ingest.events import Event
from pysynth.lifecycle import CREATES, effects
from pysynth.moments import moments_of, reorderable
from pysynth.paths import path_text
from pysynth.solve import Fact, Term

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


@dataclass(slots=True)
class Slot:
    id: int
    call: int
    keys: tuple  # where the value is in the request: member names and list indices
    path: str  # the same as text: "TagSpecifications[0].Tags[1].Value"
    member: str
    containers: tuple[str, ...]
    value: object
    value_id: int
    type: str
    shape: botocore.model.Shape
    # For a fragment: where it lies in the string at ``path`` (start, end).
    span: tuple[int, int] | None = None
    hidden: bool = False
    runtime: str | None = None
    identifier: bool = False
    constant: bool = False


@dataclass(slots=True)
class OutputSlot:
    id: int
    call: int
    path: str
    value_id: int
    type: str


@dataclass
class Session:
    """The analysed session: calls (the kept write calls and the read calls that may become read
    or wait steps), slots, outputs, the joins between them, and the evidence of polling and
    failed attempts around them."""

    calls: list[Event]
    slots: list[Slot] = field(default_factory=list)
    outputs: list[OutputSlot] = field(default_factory=list)
    values: list[object] = field(default_factory=list)
    produced: dict[int, int] = field(default_factory=dict)
    first_source: dict[int, int] = field(default_factory=dict)
    can_take: list[tuple[int, int]] = field(default_factory=list)
    same_request: list[tuple[int, int]] = field(default_factory=list)
    runtime_values: dict[str, str] = field(default_factory=dict)
    # Call -> its moment: the second it was logged in, numbered from 1 (CloudTrail's order within
    # one second is arbitrary, so the runbook may reorder the calls of a moment).
    moments: list[int] = field(default_factory=list)
    # The moments whose steps the solver ranks (pysynth.moments): elsewhere the log's order holds.
    reorderable: set[int] = field(default_factory=set)
    effects: list[tuple[str, int, int]] = field(default_factory=list)  # (creates|deletes, call, value)
    polls: list[Poll] = field(default_factory=list)
    failures: dict[int, Failures] = field(default_factory=dict)  # write call -> failed attempts before it

    def call_event(self, call: int) -> Event:
        return self.calls[call - 1]

    def is_read(self, call: int) -> bool:
        return self.calls[call - 1].read_only

    def facts(self) -> list[Fact]:
        return [_storable(fact) for fact in _facts(self)]


def value_key(value: object) -> tuple:
    """Equal values share one id; a string "1" and the number 1 do not."""
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, (list, tuple)):
        return ("list", tuple(value_key(item) for item in value))
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
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return str(value)


@dataclass(slots=True)
class Poll:
    """A series of identical reads that polled a value: ``call`` is the last read (a read call of
    the session), ``consumer`` the first write call after it that uses the value."""

    call: int
    reads: int
    waiters: list[str]
    accepted: list[str]
    consumer: int | None


def analyse(writes: list[Event], reads: list[Event] = (), failed: list[Event] = ()) -> Session:
    """Slots, outputs, values, candidate bindings and evidence for the kept write calls in log
    order, with the read calls that polled a resource or whose recorded responses carry a value a
    later write uses, and the failed attempts before a write succeeded."""
    merged = list(heapq.merge(writes, reads, key=_epoch))
    calls, polls = _candidate_calls(merged, poll_series(merged))
    session = _Analyser(calls).run()
    session.polls = polls
    positions = {id(event): number for number, event in enumerate(calls, start=1)}
    session.failures = {positions[id(writes[index])]: found for index, found in failures_before(writes, failed).items()}
    outputs = session.outputs
    session.reorderable = reorderable(
        session.moments,
        ((slot.call, slot.value_id) for slot in session.slots),
        ((session.slots[slot - 1].call, outputs[output - 1].call) for slot, output in session.can_take),
        session.effects,
        ((poll.call, poll.consumer) for poll in polls if poll.consumer is not None),
    )
    return session


def _epoch(event: Event) -> float:
    return event.epoch


def _candidate_calls(merged: list[Event], series: list[PollSeries]):
    """The session's calls: the writes and, of the reads (all in time order), the last read of each
    poll series and the recorded reads whose response shows a value a later write's request
    holds; with the polls, numbered as calls."""
    later_requests: set[str] = set()
    useful: set[int] = set()
    for index in range(len(merged) - 1, -1, -1):
        event = merged[index]
        if not event.read_only:
            later_requests |= strings_of(event.call.params)
        elif event.call.response and (strings_of(event.call.response) - strings_of(event.call.params)) & later_requests:
            useful.add(index)
    useful.update(item.last for item in series)
    kept = [index for index, event in enumerate(merged) if not event.read_only or index in useful]
    number = {index: position for position, index in enumerate(kept, start=1)}
    polls = [
        Poll(number[item.last], len(item.reads), item.waiters, item.accepted, number.get(item.consumer))
        for item in series if item.waiters
    ]
    return [merged[index] for index in kept], polls


class _Analyser:
    def __init__(self, calls: list[Event]):
        self.session = Session(calls=calls, runtime_values=runtime_values(calls))
        self.session.moments = moments_of(calls)
        self.value_ids: dict[tuple, int] = {}
        # Each value's occurrences in responses, in call order: [(call, output id)].
        self.sources: dict[int, list[tuple[int, int]]] = defaultdict(list)
        # Texts of whole identifier slots seen so far: an id, or a name inside a longer string.
        self.identifier_texts: dict[str, int] = {}
        self.request_values: dict[int, set[int]] = defaultdict(set)
        self.first_request_moment: dict[int, int] = {}

    def run(self) -> Session:
        session = self.session
        # Responses first: a value a call of the same moment showed may be what a request uses,
        # whichever of the two CloudTrail logged first.
        for number, event in enumerate(session.calls, start=1):
            call = event.call
            operation = operation_model(call.service, call.operation)
            if call.response and operation.output_shape is not None:
                for path, value, shape in _response_leaves(call.response, operation.output_shape):
                    self.add_output(number, path, value, shape)
        for number, event in enumerate(session.calls, start=1):
            call = event.call
            operation = operation_model(call.service, call.operation)
            params, hidden_paths = unlogged.complete(call.service, call.operation, call.params, call.hidden)
            hidden = set(hidden_paths)
            for keys, member, containers, value, shape in self.request_leaves(number, params, operation.input_shape, hidden):
                self.add_leaf(number, hidden, keys, member, containers, value, shape)
            if not event.read_only:
                for kind, name in effects(call.service, call.operation, call.params):
                    session.effects.append((kind, number, self.intern(name)))
        self.find_producers()
        _join_candidates(session, self.sources)
        session.same_request = _retries(session)
        return session

    def shown_to(self, value_id: int | None, call: int) -> bool:
        """Whether a response of another call of the same or an earlier moment shows the value."""
        moments = self.session.moments
        for source, _ in self.sources.get(value_id, ()):
            if moments[source - 1] > moments[call - 1]:
                return False
            if source != call:
                return True
        return False

    def shown_before(self, value: object, call: int) -> bool:
        return self.shown_to(self.value_ids.get(value_key(value)), call)

    def find_producers(self) -> None:
        """A value first shown by a write call's response, in no request of that call or of an
        earlier moment, and by no read of an earlier moment, was created by that call."""
        session = self.session
        moments = session.moments
        runtime = set(session.runtime_values.values())
        creators = {value_id: call for kind, call, value_id in session.effects if kind == CREATES}
        for value_id, occurrences in self.sources.items():
            # The call that created a named resource is its first source, whatever order CloudTrail
            # logged the calls of that second in.
            creator = creators.get(value_id)
            shown_by_creator = any(call == creator for call, _ in occurrences)
            session.first_source[value_id] = creator if shown_by_creator else occurrences[0][0]
            writer = next((call for call, _ in occurrences if not session.is_read(call)), None)
            if writer is None or value_id in self.request_values[writer]:
                continue
            moment = moments[writer - 1]
            if any(moments[call - 1] < moment for call, _ in occurrences if session.is_read(call)):
                continue
            if self.first_request_moment.get(value_id, moment) < moment:
                continue
            # The account id and region show up in responses (OwnerId, NetworkBorderGroup) long
            # before any request uses them, but no call created them.
            if self.session.values[value_id - 1] in runtime:
                continue
            session.produced[value_id] = writer

    def intern(self, value: object) -> int:
        key = value_key(value)
        found = self.value_ids.get(key)
        if found is None:
            found = self.value_ids[key] = len(self.session.values) + 1
            self.session.values.append(value)
        return found

    def mentions_runtime(self, value: object) -> bool:
        """Whether a text holds the session's account id or region (a layer ARN in a list): its
        items are then slots of their own, so that those become runtime values."""
        runtime = self.session.runtime_values
        return isinstance(value, str) and any(
            known and known in value for known in (runtime.get("account_id"), runtime.get("region")))

    def add_leaf(self, call, hidden, keys, member, containers, value, shape) -> None:
        path = path_text(keys)
        if path in hidden:
            # Each hidden value is its own secret, whatever placeholder stands in for it.
            self.new_slot(call, keys, member, containers, value, self.intern(("hidden", call, path)), shape, hidden=True)
            return
        value_id = self.intern(value)
        zone = AVAILABILITY_ZONE.match(value) if isinstance(value, str) else None
        if zone and zone.group(1) == self.session.runtime_values.get("region"):
            fragments = [(0, zone.end(1), self.intern(zone.group(1)), "region")]
        else:
            fragments = [] if self.is_whole(value, value_id, call) else list(self.fragments(value, call))
        if fragments:
            for start, end, fragment_id, runtime in fragments:
                self.new_slot(call, keys, member, containers, self.session.values[fragment_id - 1], fragment_id,
                              shape, span=(start, end), runtime=runtime)
                self.seen_in_request_of(call, fragment_id)
            return
        slot = self.new_slot(call, keys, member, containers, value, value_id, shape)
        if slot.identifier and isinstance(value, str):
            self.identifier_texts.setdefault(value, value_id)
        self.seen_in_request_of(call, value_id)

    def seen_in_request_of(self, call: int, value_id: int) -> None:
        self.request_values[call].add(value_id)
        self.first_request_moment.setdefault(value_id, self.session.moments[call - 1])

    def is_whole(self, value: object, value_id: int, call: int) -> bool:
        """A value that is one thing as a whole: not a string, an AWS-managed policy ARN (a
        constant), a string a response showed, an identifier used before, or the account id or
        region itself."""
        return (
            not isinstance(value, str)
            or AWS_MANAGED_ARN.match(value) is not None
            or self.shown_to(value_id, call)
            or value in self.identifier_texts
            or value in self.session.runtime_values.values()
        )

    def fragments(self, text: str, call: int):
        """(start, end, value id, runtime kind or None) for each piece of ``text`` that is the
        partition, account id or region, or an id a response showed, or a known identifier."""
        runtime = self.session.runtime_values
        found: list[tuple[int, int, int, str | None]] = []
        for arn in ARN.finditer(text):
            partition = ARN_PARTITION.match(arn.group())
            if partition and partition.group(1) == runtime.get("partition"):
                found.append((arn.start() + 4, arn.start() + 4 + len(partition.group(1)),
                              self.intern(partition.group(1)), "partition"))
            fields = arn.group().split(":", 5)
            if len(fields) == 6 and fields[4] and fields[4] == runtime.get("account_id"):
                found += self.resource_name(text, arn.end() - len(fields[5]), arn.end())
        for url in ACCOUNT_URL.finditer(text):
            if url.group(1) == runtime.get("account_id"):
                found += self.resource_name(text, url.start(2), url.end(2))
        for account in ACCOUNT_ID.finditer(text):
            if account.group() == runtime.get("account_id"):
                found.append((account.start(), account.end(), self.intern(account.group()), "account_id"))
        region = runtime.get("region")
        if region:
            # In a host name or path too: sqs.<region>.amazonaws.com.
            for match in re.finditer(rf"(?<![A-Za-z0-9-]){re.escape(region)}(?=[a-z]?(?![A-Za-z0-9-]))", text):
                found.append((match.start(), match.end(), self.intern(region), "region"))
        for token in TOKEN.finditer(text):
            word = token.group()
            zone = AVAILABILITY_ZONE.search(word)
            if word == region or (zone and zone.group(1) == region):
                start = token.start() + (zone.start(1) if word != region else 0)
                found.append((start, start + len(region), self.intern(region), "region"))
            elif len(word) >= MIN_EMBEDDED_LENGTH and (self.shown_before(word, call) or word in self.identifier_texts):
                found.append((token.start(), token.end(), self.intern(word), None))
        return _without_overlaps(found)

    def resource_name(self, text: str, start: int, end: int) -> list[tuple[int, int, int, None]]:
        """The name or id of the resource an ARN of the session's account (or a URL with its
        account id, an SQS queue's) names, between ``start`` and ``end`` of ``text``, as a
        fragment of any length: ``bob`` in ``user/bob``, ``MyRole`` in ``role/service-role/MyRole``,
        ``my-fn`` in ``function:my-fn:1``, the whole of an SNS topic's ``alerts``. The resource
        existed before the session (or a step made it): it is no literal."""
        resource = text[start:end]
        separator = RESOURCE_TYPE.search(resource)
        if separator is not None:
            # After the resource type, up to a qualifier (a version); the last part of a path.
            qualifier = resource.find(":", separator.end())
            piece_end = len(resource) if qualifier < 0 else qualifier
            slash = resource.rfind("/", separator.end(), piece_end)
            start, end = start + (slash + 1 if slash >= 0 else separator.end()), start + piece_end
        name = text[start:end]
        if not name or RESOURCE_WILDCARD.search(name) or name in self.session.runtime_values.values():
            return []
        return [(start, end, self.intern(name), None)]

    def new_slot(self, call, keys, member, containers, value, value_id, shape, span=None, hidden=False, runtime=None):
        session = self.session
        slot = Slot(
            id=len(session.slots) + 1, call=call, keys=keys, path=path_text(keys), member=member, containers=containers, value=value,
            value_id=value_id, type="list" if isinstance(value, tuple) else shape.type_name, shape=shape,
            span=span, hidden=hidden,
        )
        if not hidden:
            slot.runtime = runtime if span is not None else _runtime_kind(value, session.runtime_values)
            slot.constant = slot.runtime is None and span is None and _is_constant(slot)
            slot.identifier = slot.runtime is None and not slot.constant and (
                span is not None
                or (_is_identifier(slot, self.session.call_event(call).call.service)
                    and not self.in_key_value_data(call, keys))
            )
        session.slots.append(slot)
        return slot

    def in_key_value_data(self, call: int, keys: tuple) -> bool:
        """Whether ``keys`` lie inside key/value data of the call's request (``_is_key_value``)."""
        made = self.session.call_event(call).call
        shape = operation_model(made.service, made.operation).input_shape
        for key in keys[:-1]:
            if shape is None:
                return False
            if _is_key_value(shape):
                return True
            if shape.type_name == "structure":
                shape = shape.members.get(key)
            else:
                shape = shape.member if shape.type_name == "list" else shape.value
        return shape is not None and _is_key_value(shape)

    def add_output(self, call, path, value, shape) -> None:
        session = self.session
        value_id = self.intern(value)
        output = OutputSlot(len(session.outputs) + 1, call, path, value_id, shape.type_name)
        session.outputs.append(output)
        occurrences = self.sources[value_id]
        if occurrences and occurrences[-1][0] == call:
            return  # one output per call and value is enough: the first path that showed it
        occurrences.append((call, output.id))

    def request_leaves(self, call, params, shape, hidden, keys=(), member="", containers=()):
        """(keys, member, containers, value, shape) for every scalar and every hidden value, and
        for each list of scalars that no response showed, as one tuple value."""
        if shape is None or params is None:
            return
        if keys and path_text(keys) in hidden:
            yield keys, member, containers, params, shape
            return
        kind = shape.type_name
        if kind == "structure":
            inner_containers = containers + ((member,) if member else ())
            for name, value in params.items():
                member_shape = shape.members.get(name)
                if member_shape is None or member_shape.metadata.get("idempotencyToken"):
                    continue  # a fresh token per run: botocore generates one when it is left out
                yield from self.request_leaves(call, value, member_shape, hidden, keys + (name,), name, inner_containers)
        elif kind == "list":
            item_shape = shape.member
            whole = (
                item_shape.type_name in SCALAR_TYPES
                and params
                and not any(
                    self.shown_before(item, call) or item in self.identifier_texts or self.mentions_runtime(item)
                    for item in params
                )
                and not any(path_text(keys + (index,)) in hidden for index in range(len(params)))
            )
            if whole:
                yield keys, member, containers, tuple(params), item_shape
                return
            for index, item in enumerate(params):
                yield from self.request_leaves(call, item, item_shape, hidden, keys + (index,), member, containers)
        elif kind == "map":
            for key, item in params.items():
                yield from self.request_leaves(call, item, shape.value, hidden, keys + (key,), key, containers + (member,))
        elif kind in SCALAR_TYPES:
            yield keys, member, containers, params, shape


def _response_leaves(response, shape, path=""):
    if shape is None or response is None:
        return
    kind = shape.type_name
    if kind == "structure" and isinstance(response, dict):
        for name, value in response.items():
            member_shape = shape.members.get(name)
            if member_shape is not None:
                yield from _response_leaves(value, member_shape, f"{path}.{name}" if path else name)
    elif kind == "list" and isinstance(response, list):
        for index, item in enumerate(response):
            yield from _response_leaves(item, shape.member, f"{path}[{index}]")
    elif kind in SCALAR_TYPES and not isinstance(response, (dict, list)):
        yield path, response, shape


def _without_overlaps(found):
    """Fragments in text order; where two overlap, the one that starts first (then the longer)."""
    kept = []
    end = -1
    for fragment in sorted(found, key=lambda item: (item[0], -item[1])):
        if fragment[0] >= end:
            kept.append(fragment)
            end = fragment[1]
    return kept


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


def _runtime_kind(value: object, runtime: dict[str, str]) -> str | None:
    if isinstance(value, str):
        for kind in ("account_id", "region"):
            if runtime.get(kind) == value:
                return kind
    return None


def _is_constant(slot: Slot) -> bool:
    shape = slot.shape
    if slot.type in NUMBER_TYPES or slot.type in ("boolean", "timestamp", "blob"):
        return True
    if shape.metadata.get("enum") or shape.type_name in NUMBER_TYPES or shape.type_name == "boolean":
        return True
    return isinstance(slot.value, str) and bool(AWS_MANAGED_ARN.match(slot.value))


def _is_key_value(shape: botocore.model.Shape) -> bool:
    """Tags (``Tags``, ``TagSet``, ``TagsList``, a ``tags`` map), filters, environment variables:
    a map of scalars, or a list of structures of two members, a key (``Key``, ``Name``) and its
    value(s) (``Value``, ``Values``), in any case."""
    if shape.type_name == "map":
        return shape.value.type_name in SCALAR_TYPES
    if shape.type_name == "list" and shape.member.type_name == "structure":
        members = {member.lower() for member in shape.member.members}
        return len(members) == 2 and bool(members & KEY_MEMBERS) and bool(members & VALUE_MEMBERS)
    return False


def _is_identifier(slot: Slot, service: str) -> bool:
    texts = slot.value if isinstance(slot.value, tuple) else (slot.value,)
    if not all(isinstance(text, str) for text in texts):
        return False
    if (slot.member.endswith(IDENTIFIER_SUFFIXES) or slot.member in IDENTIFIER_MEMBERS
            or slot.member in resource_identifier_members(service)):
        return True
    return all(RESOURCE_ID.match(text) or text.startswith("arn:") for text in texts)


# Outputs of the same moment offered to one slot at most: enough to undo CloudTrail's arbitrary
# order within a second, and bounded however busy the second.
SAME_MOMENT_SOURCES = 3


def _join_candidates(session: Session, sources: dict[int, list[tuple[int, int]]]) -> None:
    """For each identifier or created value: the first output that showed it, the latest one of an
    earlier moment, and the ones of the same moment (whose order the runbook decides). Plain data
    (a tag value "true", a path "/") is never read from a response that merely echoes it: that
    would tie unrelated steps together."""
    moments = session.moments
    for slot in session.slots:
        if slot.hidden or slot.runtime or not (slot.identifier or slot.value_id in session.produced):
            continue
        moment = moments[slot.call - 1]
        earlier = [output for call, output in sources.get(slot.value_id, ()) if moments[call - 1] < moment]
        # A read's response shows the state after the writes logged before it: only a call logged
        # after the read may take its values.
        same = [output for call, output in sources.get(slot.value_id, ())
                if moments[call - 1] == moment and call != slot.call
                and not (session.is_read(call) and call > slot.call)][:SAME_MOMENT_SOURCES]
        chosen = set(same)
        if earlier:
            chosen |= {earlier[0], earlier[-1]}
        session.can_take.extend((slot.id, output) for output in sorted(chosen))


def _retries(session: Session) -> list[tuple[int, int]]:
    """Pairs (C, C0): write C repeats write C0's request and response, and no call in between uses
    one of their request values, so C may be a retry of C0. C0 is the first call of an unbroken
    run of repeats, so that every retry of a run can merge into the same step."""
    slot_values: dict[int, set[int]] = defaultdict(set)
    for slot in session.slots:
        slot_values[slot.call].add(slot.value_id)
    first_of_run: dict[str, int] = {}
    latest: dict[str, int] = {}
    pairs = []
    for number, event in enumerate(session.calls, start=1):
        if event.read_only:
            continue
        call = event.call
        key = json.dumps([call.service, call.operation, call.params], sort_keys=True, default=str)
        earlier, head = latest.get(key), first_of_run.get(key)
        latest[key] = number
        first_of_run[key] = number
        if earlier is None:
            continue
        same_response = not call.response or call.response == session.call_event(head).call.response
        untouched = not any(slot_values[number] & slot_values[between] for between in range(earlier + 1, number))
        if same_response and untouched:
            pairs.append((number, head))
            first_of_run[key] = head
    return pairs


def _storable(fact: Fact) -> Fact:
    """clingo strings cannot hold NUL: a log value with one shows it as U+FFFD in the facts (the
    runbook keeps the real value; only policies reading value_text/2 see the stand-in)."""
    for arg in fact.args:  # a loop, not any(): this runs for every one of a session's facts
        if isinstance(arg, str) and "\x00" in arg:
            return Fact(fact.predicate, tuple(arg.replace("\x00", "\ufffd") if isinstance(arg, str) else arg
                                              for arg in fact.args))
    return fact


def _facts(session: Session):
    sizes: dict[int, int] = defaultdict(int)
    for number, event in enumerate(session.calls, start=1):
        yield Fact("read" if event.read_only else "call", (number,))
        yield Fact("call_operation", (number, event.call.service, event.call.operation))
        moment = session.moments[number - 1]
        sizes[moment] += 1
        yield Fact("moment", (number, moment, sizes[moment]))
    for moment, size in sizes.items():
        if size > 1:
            yield Fact("moment_size", (moment, size))
            if moment in session.reorderable:
                yield Fact("reorderable", (moment,))
    for call, earlier in session.same_request:
        yield Fact("same_request", (call, earlier))
    for kind, call, value_id in session.effects:
        yield Fact(kind, (call, value_id))
    for poll in session.polls:
        yield Fact("poll", (poll.call, poll.reads))
        for rank, name in enumerate(poll.waiters):
            yield Fact("waiter", (poll.call, name, rank))
        for name in poll.accepted:
            yield Fact("waiter_accepts", (poll.call, name))
        if poll.consumer is not None:
            yield Fact("polled_before", (poll.call, poll.consumer))
    for call, found in session.failures.items():
        yield Fact("failed_attempts", (call, found.count))
    for slot in session.slots:
        yield Fact("slot", (slot.id, slot.call, slot.path))
        yield Fact("slot_member", (slot.id, slot.member))
        for container in dict.fromkeys(slot.containers):
            if container:
                yield Fact("slot_in", (slot.id, container))
        yield Fact("slot_value", (slot.id, slot.value_id))
        yield Fact("slot_type", (slot.id, slot.type))
        if slot.span is not None:
            yield Fact("fragment", (slot.id,))
        if slot.hidden:
            yield Fact("hidden", (slot.id,))
        if slot.runtime:
            yield Fact("runtime", (slot.id, Term(slot.runtime)))
        if slot.identifier:
            yield Fact("identifier", (slot.id,))
        if slot.constant:
            yield Fact("constant", (slot.id,))
    hidden_values = {slot.value_id for slot in session.slots if slot.hidden}
    for value_id, value in enumerate(session.values, start=1):
        if value_id not in hidden_values:
            yield Fact("value_text", (value_id, value_text(value)))
            bits = cidr_prefix(value)
            if bits is not None:
                yield Fact("value_cidr", (value_id, bits))
    # Only outputs some slot may take: the rest of every response (most of it) could bind nothing.
    offered = {output_id for _, output_id in session.can_take}
    for output in session.outputs:
        if output.id not in offered:
            continue
        yield Fact("output", (output.id, output.call, output.path))
        yield Fact("output_value", (output.id, output.value_id))
        yield Fact("output_type", (output.id, output.type))
    for value_id, call in session.produced.items():
        yield Fact("produced", (value_id, call))
    for value_id, call in session.first_source.items():
        yield Fact("first_source", (value_id, call))
    for slot_id, output_id in session.can_take:
        yield Fact("can_take", (slot_id, output_id))
