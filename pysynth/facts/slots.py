"""Cutting requests into slots and responses into outputs, and classifying each slot (an
identifier, a constant, a fragment of a longer string, a hidden value, a runtime value)."""

from __future__ import annotations

import re
from collections import defaultdict

import botocore.model

from pysynth import unlogged
from pysynth.botomodels import operation_model, resource_identifier_members
from pysynth.ingest.events import Event
from pysynth.lifecycle import CREATES, effects
from pysynth.moments import moments_of
from pysynth.paths import path_text, strings_of
from pysynth.facts.joins import join_candidates, retries
from pysynth.facts.session import OutputSlot, Session, Slot
from pysynth.facts.values import (
    ACCOUNT_ID, ACCOUNT_URL, ARN, ARN_PARTITION, AVAILABILITY_ZONE, AWS_MANAGED_ARN, IDENTIFIER_MEMBERS,
    IDENTIFIER_SUFFIXES, KEY_MEMBERS, MIN_EMBEDDED_LENGTH, NUMBER_TYPES, RESOURCE_TYPE, RESOURCE_WILDCARD,
    RESOURCE_ID, SCALAR_TYPES, TOKEN, VALUE_MEMBERS, runtime_kind, runtime_values, value_key,
)

# Where a word splits into the names it may be made of: "vpc-0abc1234-1", "acme_data.logs".
WORD_SEPARATOR = re.compile(r"[-_.]")
MAX_WORD_PIECES = 12  # bounds the sub-spans tried per word (quadratic in its pieces)


class Analyser:
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
        # The maps and structures inside requests that a response may hold whole: their places
        # (call, keys), and their value keys by member names (a cheap test before comparing).
        self.structure_places: set[tuple[int, tuple]] = set()
        self.structure_keys: dict[frozenset, set[tuple]] = defaultdict(set)
        # The latest whole slot: the request's leaves after it, inside it, lie within it.
        self.whole_slot: Slot | None = None

    def run(self) -> Session:
        session = self.session
        # Whole structures flow only from reads: a read's response is data the runbook can get no
        # other way, while what a write created flows value by value (``produced``). CloudTrail
        # logs no read's response, so only recorded traces have any.
        if any(event.read_only and event.call.response for event in session.calls):
            for number, event in enumerate(session.calls, start=1):
                call = event.call
                for keys, value in _request_structures(call.params, operation_model(call.service, call.operation).input_shape):
                    self.structure_places.add((number, keys))
                    self.structure_keys[frozenset(value)].add(value_key(value))
        # Responses first: a value a call of the same moment showed may be what a request uses,
        # whichever of the two CloudTrail logged first.
        for number, event in enumerate(session.calls, start=1):
            call = event.call
            operation = operation_model(call.service, call.operation)
            if call.response and operation.output_shape is not None:
                structures = event.read_only and bool(self.structure_keys)
                for path, value, shape in _response_values(call.response, operation.output_shape, structures):
                    if isinstance(value, dict):
                        self.add_structure_output(number, event, path, value, shape)
                    else:
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
        join_candidates(session, self.sources)
        session.same_request = retries(session)
        return session

    def add_structure_output(self, number: int, event: Event, path: str, value: dict, shape) -> None:
        """A map or structure of a read's response, as an output where some request holds it whole
        and it shows data the read's own request did not send (``_reveals``)."""
        held = self.structure_keys.get(frozenset(value))
        if held and value_key(value) in held and _reveals(value, shape, strings_of(event.call.params)):
            self.add_output(number, path, value, shape)

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
            if isinstance(self.session.values[value_id - 1], dict):
                continue  # a whole structure is data a response showed; its ids are created one by one
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
        if isinstance(value, dict):
            self.whole_slot = self.new_slot(call, keys, member, containers, value, self.intern(value), shape, whole=True)
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
        embedded: list[tuple[int, int, int, None]] = []
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
            else:
                embedded += self.embedded_names(word, token.start(), call)
        kept = _without_overlaps(found)
        # Names inside a longer word may overlap one another ("my-app" and "app-logs" in
        # "my-app-logs"): each is a candidate, and the solver cuts one of those that overlap.
        embedded = [piece for piece in embedded if not any(piece[0] < end and start < piece[1] for start, end, *_ in kept)]
        return sorted(kept + embedded)

    def embedded_names(self, word: str, offset: int, call: int) -> list[tuple[int, int, int, None]]:
        """Known names and ids inside a word, between its separators: ``vpc-0abc1234`` in the tag
        ``vpc-0abc1234-1``, ``acme-data`` in ``acme-data-logs``."""
        bounds = [0, *(match.start() for match in WORD_SEPARATOR.finditer(word)), len(word)]
        if len(bounds) > MAX_WORD_PIECES:
            return []
        found = []
        for first in range(len(bounds) - 1):
            for last in range(first + 1, len(bounds)):
                start = bounds[first] + (first > 0)
                end = bounds[last]
                piece = word[start:end]
                if (end - start < len(word) and len(piece) >= MIN_EMBEDDED_LENGTH
                        and (piece in self.identifier_texts or self.shown_before(piece, call))):
                    found.append((offset + start, offset + end, self.intern(piece), None))
        return found

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

    def new_slot(self, call, keys, member, containers, value, value_id, shape, span=None, hidden=False, runtime=None,
                 whole=False):
        session = self.session
        slot = Slot(
            id=len(session.slots) + 1, call=call, keys=keys, path=path_text(keys), member=member, containers=containers, value=value,
            value_id=value_id, type="list" if isinstance(value, tuple) else shape.type_name, shape=shape,
            span=span, hidden=hidden, whole=whole,
        )
        around = self.whole_slot
        if not whole and around is not None and around.call == call and keys[:len(around.keys)] == around.keys:
            slot.within = around.id
        if not hidden and not whole:
            slot.runtime = runtime if span is not None else runtime_kind(value, session.runtime_values)
            slot.constant = slot.runtime is None and span is None and _is_constant(slot)
            if span is None:
                slot.key_attribute = self.item_key_attribute(call, keys)
            slot.identifier = slot.runtime is None and not slot.constant and (
                span is not None
                or (_is_identifier(slot, self.session.call_event(call).call.service)
                    and not self.in_key_value_data(call, keys))
            )
        session.slots.append(slot)
        return slot

    def request_shapes(self, call: int, keys: tuple):
        """(the shape that holds the key, key) for each of ``keys`` in the call's request."""
        made = self.session.call_event(call).call
        return _shapes_along(operation_model(made.service, made.operation).input_shape, keys)

    def in_key_value_data(self, call: int, keys: tuple) -> bool:
        """Whether ``keys`` lie inside key/value data of the call's request (``_is_key_value``)."""
        return any(_is_key_value(shape) for shape, _ in self.request_shapes(call, keys))

    def item_key_attribute(self, call: int, keys: tuple) -> str | None:
        """The key attribute that a value under an item's key names the item by: a map of
        attribute values held by an identifier member (DynamoDB's ``Key``: ``id`` to ``{"S": ...}``)."""
        member = None  # the structure member the keys went through last
        for shape, key in self.request_shapes(call, keys):
            if shape.type_name == "map" and _names_something(member) and shape.value.type_name not in SCALAR_TYPES:
                return key
            member = key if shape.type_name == "structure" else None
        return None

    def add_output(self, call, path, value, shape) -> None:
        session = self.session
        value_id = self.intern(value)
        output = OutputSlot(len(session.outputs) + 1, call, path, value_id, shape.type_name)
        session.outputs.append(output)
        occurrences = self.sources[value_id]
        if occurrences and occurrences[-1][0] == call:
            return  # one output per call and value is enough: the first path that showed it
        occurrences.append((call, output.id))

    def request_leaves(self, call, params, shape, hidden, keys=(), member="", containers=(), inside_whole=False):
        """(keys, member, containers, value, shape) for every scalar and every hidden value, for
        each list of scalars that no response showed, as one tuple value, and, before its leaves,
        for each map or structure an earlier response holds whole (not within another)."""
        if shape is None or params is None:
            return
        if keys and path_text(keys) in hidden:
            yield keys, member, containers, params, shape
            return
        kind = shape.type_name
        if not inside_whole and (call, keys) in self.structure_places and self.shown_before(params, call) and not any(
                _lies_in(path, keys) for path in hidden):
            yield keys, member, containers, params, shape
            inside_whole = True
        if kind == "structure":
            inner_containers = containers + ((member,) if member else ())
            for name, value in params.items():
                member_shape = shape.members.get(name)
                if member_shape is None or member_shape.metadata.get("idempotencyToken"):
                    continue  # a fresh token per run: botocore generates one when it is left out
                yield from self.request_leaves(call, value, member_shape, hidden, keys + (name,), name, inner_containers,
                                               inside_whole)
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
                yield from self.request_leaves(call, item, item_shape, hidden, keys + (index,), member, containers,
                                               inside_whole)
        elif kind == "map":
            for key, item in params.items():
                yield from self.request_leaves(call, item, shape.value, hidden, keys + (key,), key, containers + (member,),
                                               inside_whole)
        elif kind in SCALAR_TYPES:
            yield keys, member, containers, params, shape


def _response_values(response, shape, structures: bool, path=""):
    """(path, value, shape) for every scalar of a response and, with ``structures``, every map and
    structure inside it, at paths of member names and list positions: a map's keys are data, not
    places an output's path names, so nothing inside a map is walked."""
    if shape is None or response is None:
        return
    kind = shape.type_name
    if kind in ("structure", "map") and isinstance(response, dict):
        if structures and path:
            yield path, response, shape
        if kind == "structure":
            for name, value in response.items():
                member_shape = shape.members.get(name)
                if member_shape is not None:
                    yield from _response_values(value, member_shape, structures, f"{path}.{name}" if path else name)
    elif kind == "list" and isinstance(response, list):
        for index, item in enumerate(response):
            yield from _response_values(item, shape.member, structures, f"{path}[{index}]")
    elif kind in SCALAR_TYPES and not isinstance(response, (dict, list)):
        yield path, response, shape


def _request_structures(params, shape, keys=()):
    """(keys, value) for each map and structure inside a request (not the request itself, nor
    key/value data such as tags, which holds the same pairs in many places without any data flow)."""
    if shape is None or params is None or _is_key_value(shape):
        return
    kind = shape.type_name
    if kind in ("structure", "map") and isinstance(params, dict):
        if keys:
            yield keys, params
        for name, value in params.items():
            inner = shape.members.get(name) if kind == "structure" else shape.value
            yield from _request_structures(value, inner, keys + (name,))
    elif kind == "list" and isinstance(params, list):
        for index, item in enumerate(params):
            yield from _request_structures(item, shape.member, keys + (index,))


def _reveals(value, shape, sent: set[str]) -> bool:
    """Whether a response's map or structure holds data its call's request did not send: a text
    that is no enum. Enums and numbers alone (``{"Status": "Enabled"}``) are settings another
    request may hold by chance, and a structure that echoes the request tells nothing new."""
    if shape is None:
        return False
    kind = shape.type_name
    if isinstance(value, dict) and kind in ("structure", "map"):
        return any(_reveals(item, shape.members.get(name) if kind == "structure" else shape.value, sent)
                   for name, item in value.items())
    if isinstance(value, list) and kind == "list":
        return any(_reveals(item, shape.member, sent) for item in value)
    return kind == "string" and isinstance(value, str) and not shape.metadata.get("enum") and value not in sent


def _lies_in(path: str, keys: tuple) -> bool:
    """Whether the request path ``path`` is at ``keys`` or inside it."""
    place = path_text(keys)
    return path == place or path.startswith((place + ".", place + "["))


def _shapes_along(shape, keys: tuple):
    """(the shape that holds the key, key) for each of ``keys``, from the request's shape down."""
    for key in keys:
        if shape is None:
            return
        yield shape, key
        if shape.type_name == "structure":
            shape = shape.members.get(key)
        else:
            shape = shape.member if shape.type_name == "list" else shape.value


def _without_overlaps(found):
    """Fragments in text order; where two overlap, the one that starts first (then the longer)."""
    kept = []
    end = -1
    for fragment in sorted(found, key=lambda item: (item[0], -item[1])):
        if fragment[0] >= end:
            kept.append(fragment)
            end = fragment[1]
    return kept


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


def _names_something(member: str | None) -> bool:
    """A member named as what names or identifies something: ``UserName``, ``Key``, ``id``."""
    return member is not None and (member.endswith(IDENTIFIER_SUFFIXES) or member in IDENTIFIER_MEMBERS)


def _is_identifier(slot: Slot, service: str) -> bool:
    texts = slot.value if isinstance(slot.value, tuple) else (slot.value,)
    if not all(isinstance(text, str) for text in texts):
        return False
    if _names_something(slot.member) or slot.key_attribute is not None or slot.member in resource_identifier_members(service):
        return True
    return all(RESOURCE_ID.match(text) or text.startswith("arn:") for text in texts)
