"""Ordering and selection: merge records across files by time, remove duplicates, break ties in
the same second by data-flow evidence, and decide for every record whether it is kept and why not.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import groupby

from pysynth.ingest.calls import NotMappable
from pysynth.ingest.events import DROPPED, Event, Principal, parse_time, principal_of
from pysynth.ingest.normalize import Normalizer
from pysynth.ingest.readers import RawRecord, ReadProblem, expand_inputs, read_file

# Event sources that carry no public API call a user made: console sign-in and the SSM agent's
# control channels.
NON_API_SOURCES = {
    "signin.amazonaws.com": "console sign-in, not an API call",
    "ec2messages.amazonaws.com": "SSM agent message channel, not a user's API call",
    "ssmmessages.amazonaws.com": "SSM agent session channel, not a user's API call",
}
AGENT_CALLS = {("ssm.amazonaws.com", "UpdateInstanceInformation"): "SSM agent heartbeat, not a user's API call"}
# The SSM agent on an instance reports in through the public API with its own user agent.
AGENT_USER_AGENT = "amazon-ssm-agent"
# Credential plumbing: it changes nothing in the account and a runbook never repeats it.
STS_NOISE = {
    "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetCallerIdentity",
    "GetSessionToken", "GetFederationToken", "GetAccessKeyInfo", "DecodeAuthorizationMessage",
}
SIGN_IN_NOISE = {"ConsoleLogin", "CheckMfa", "ExternalIdPDirectoryLogin", "GetSigninToken", "SwitchRole"}

# Read-only calls are dropped from the runbook but stay available as evidence of waiting and polling.
READ_ONLY = "read-only call"


@dataclass(slots=True)
class Selection:
    """What the user asked to look at; ``None`` means no limit."""

    principal: str | None = None
    since: float | None = None
    until: float | None = None
    regions: frozenset[str] | None = None
    all_principals: bool = False


@dataclass
class Ingested:
    """Every input record as an event, in time order, and what could not be read at all."""

    events: list[Event]
    problems: list[ReadProblem]
    files_read: int = 0
    principal_writes: Counter = field(default_factory=Counter)

    @property
    def kept(self) -> list[Event]:
        return [event for event in self.events if event.kept]

    @property
    def reads(self) -> list[Event]:
        """Successful read-only calls: the evidence of waiting and polling for later layers."""
        return [event for event in self.events if event.reason == READ_ONLY and event.call]

    def drop_counts(self) -> Counter:
        return Counter(_reason_kind(event.reason) for event in self.events if not event.kept)


class AmbiguousPrincipal(Exception):
    """Several principals made write calls and none was chosen."""

    def __init__(self, writes: Counter):
        super().__init__("several principals made write calls; choose one with --principal")
        self.writes = writes


def ingest(
    paths: Iterable[str],
    selection: Selection,
    normalizer: Normalizer | None = None,
    on_file: Callable[[str, int, int], None] | None = None,
) -> Ingested:
    """Read, normalise, order and classify every record of ``paths``.

    ``on_file(name, position, total)`` is called before each file is read (for progress).
    Raises ``AmbiguousPrincipal`` when the selection is ambiguous.
    """
    normalizer = normalizer or Normalizer()
    # Reading builds millions of small objects that all live to the end: the cyclic garbage
    # collector would walk them again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _ingest(paths, selection, normalizer, on_file)
    finally:
        if collecting:
            gc.enable()


def _ingest(paths, selection, normalizer, on_file) -> Ingested:
    events: list[Event] = []
    problems: list[ReadProblem] = []
    files: list[str] = []
    for item in expand_inputs(paths):
        if isinstance(item, ReadProblem):
            problems.append(item)
        else:
            files.append(item)
    for position, name in enumerate(files):
        if on_file:
            on_file(name, position, len(files))
        for item in read_file(name):
            if isinstance(item, RawRecord):
                events.append(event_of(item, normalizer))
            elif item.index is None:
                problems.append(item)
            else:
                events.append(unreadable_event(item))
    order_events(events)
    ingested = Ingested(events, problems, files_read=len(files))
    ingested.principal_writes = classify(events, selection)
    if selection.principal is None and not selection.all_principals and len(ingested.principal_writes) > 1:
        raise AmbiguousPrincipal(ingested.principal_writes)
    return ingested


def event_of(raw: RawRecord, normalizer: Normalizer) -> Event:
    record = raw.data
    epoch = parse_time(record.get("eventTime"))
    event = Event(
        file=raw.file,
        index=raw.index,
        event_id=_text(record.get("eventID")),
        time=_text(record.get("eventTime")),
        epoch=epoch if epoch is not None else float("inf"),
        principal=principal_of(record),
        region=_text(record.get("awsRegion")),
        event_source=_text(record.get("eventSource")),
        event_name=_text(record.get("eventName")),
        event_type=_text(record.get("eventType")),
        read_only=False,
        error_code=_text(record.get("errorCode")),
        invoked_by=_text((record.get("userIdentity") or {}).get("invokedBy"))
        if isinstance(record.get("userIdentity"), dict)
        else None,
        user_agent=_text(record.get("userAgent")),
    )
    missing = [name for name in ("eventSource", "eventName", "eventTime") if not isinstance(record.get(name), str)]
    if missing:
        event.drop(f"malformed record: no {' or '.join(missing)}")
        return event
    if epoch is None:
        event.drop(f"malformed record: eventTime {record['eventTime'][:40]!r} is not a time")
        return event
    try:
        event.call = normalizer.normalize(record)
    except NotMappable as reason:
        event.unmapped_reason = str(reason)
    except Exception as error:  # noqa: BLE001 - one bad record must not stop the others
        event.unmapped_reason = f"internal error while normalising ({type(error).__name__}: {error})"
    flag = record.get("readOnly")
    if isinstance(flag, bool):
        event.read_only = flag
    elif event.call:
        event.read_only = normalizer.is_read_only(event.call.service, event.call.operation)
    return event


def unreadable_event(problem: ReadProblem) -> Event:
    event = Event(
        file=problem.file, index=problem.index or 0, event_id=None, time=None, epoch=float("inf"),
        principal=Principal(arn=None, kind=None), region=None, event_source=None, event_name=None,
        event_type=None, read_only=False, error_code=None, invoked_by=None,
    )
    event.drop(f"unreadable record: {problem.message}")
    return event


# --------------------------------------------------------------------------- ordering


def order_events(events: list[Event]) -> None:
    """Sort by time; within one second, a record whose request uses a value that appears in
    another record's response (and not its own) is placed after that record."""
    events.sort(key=lambda event: event.epoch)
    ordered: list[Event] = []
    for _, group in groupby(events, key=lambda event: event.epoch):
        same_second = list(group)
        ordered.extend(_order_by_evidence(same_second) if len(same_second) > 1 else same_second)
    events[:] = ordered


def _order_by_evidence(group: list[Event]) -> list[Event]:
    produced = [_response_values(event) for event in group]
    if not any(produced):
        return group
    used = [_request_values(event) for event in group]
    before: dict[int, set[int]] = defaultdict(set)
    for consumer, consumed in enumerate(used):
        for producer, values in enumerate(produced):
            if producer != consumer and values and (consumed & values) - produced[consumer]:
                before[consumer].add(producer)
    # Kahn's algorithm, always taking the earliest ready record so the log's order is kept
    # where there is no evidence; a cycle falls back to log order.
    placed: list[int] = []
    remaining = list(range(len(group)))
    while remaining:
        ready = next((i for i in remaining if not (before[i] - set(placed))), remaining[0])
        placed.append(ready)
        remaining.remove(ready)
    return [group[i] for i in placed]


def _request_values(event: Event) -> set[str]:
    return _strings(event.call.params) if event.call else set()


def _response_values(event: Event) -> set[str]:
    return _strings(event.call.response) if event.call and event.call.response else set()


def _strings(value: object, into: set[str] | None = None) -> set[str]:
    into = set() if into is None else into
    if isinstance(value, str):
        if len(value) >= 3:
            into.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, into)
    elif isinstance(value, list):
        for item in value:
            _strings(item, into)
    return into


# --------------------------------------------------------------------------- classification


def classify(events: list[Event], selection: Selection) -> Counter:
    """Give every event its status; the first reason that applies is the one reported.

    Returns the successful write calls per principal that the selection's other limits keep, so
    an ambiguous choice of principal can be shown to the user.
    """
    first_seen: dict[tuple, Event] = {}
    writes: Counter = Counter()
    for event in events:
        if event.status == DROPPED:
            continue
        if event.event_id:
            identity = (event.event_id, event.time, event.event_source, event.event_name)
            original = first_seen.setdefault(identity, event)
            if original is not event:
                event.drop(f"duplicate of {original.file} record {original.index} (same eventID)")
                continue
        reason = _outside_selection(event, selection) or _noise(event) or _not_a_change(event)
        if reason is None:
            writes[event.principal.label] += 1
        if selection.principal and not event.principal.answers_to(selection.principal):
            reason = f"outside selection: principal {event.principal.label}"
        if reason:
            event.drop(reason)
    return writes


def _not_a_change(event: Event) -> str | None:
    if event.error_code:
        return f"failed call ({event.error_code})"
    if event.read_only:
        return READ_ONLY
    if event.call is None:
        return f"not mapped: {event.unmapped_reason}"
    return None


def _outside_selection(event: Event, selection: Selection) -> str | None:
    if selection.regions and event.region not in selection.regions:
        return f"outside selection: region {event.region}"
    if selection.since is not None and event.epoch < selection.since:
        return f"outside selection: before --since ({event.time})"
    if selection.until is not None and event.epoch > selection.until:
        return f"outside selection: after --until ({event.time})"
    return None


def _noise(event: Event) -> str | None:
    source, name = event.event_source, event.event_name
    if event.event_type and event.event_type != "AwsApiCall":
        return f"not an API call ({event.event_type})"
    if source in NON_API_SOURCES:
        return NON_API_SOURCES[source]
    if (source, name) in AGENT_CALLS:
        return AGENT_CALLS[(source, name)]
    if event.user_agent and AGENT_USER_AGENT in event.user_agent:
        return "SSM agent traffic, not a user's API call"
    on_behalf = _made_by_service(event)
    if on_behalf:
        return f"made by {on_behalf} on the user's behalf"
    if (source == "sts.amazonaws.com" and name in STS_NOISE) or name in SIGN_IN_NOISE:
        return f"STS/sign-in noise ({name}): credentials, not a change"
    return None


def _made_by_service(event: Event) -> str | None:
    principal = event.principal
    if principal.kind == "AWSService":
        return event.invoked_by or "an AWS service"
    if event.invoked_by and event.invoked_by.endswith(".amazonaws.com"):
        return event.invoked_by
    if principal.role_name and principal.role_name.startswith("AWSServiceRoleFor"):
        return f"service-linked role {principal.role_name}"
    return None


# The summary counts reasons by kind: a reason's first words, without its per-record detail.
REASON_KINDS = (
    ("read-only call", "read-only call"),
    ("failed call", "failed call"),
    ("made by", "made by an AWS service on the user's behalf"),
    ("STS/sign-in noise", "STS/sign-in noise"),
    ("not an API call", "not an API call"),
    ("console sign-in", "not an API call"),
    ("SSM agent", "SSM agent traffic"),
    ("duplicate of", "duplicate record"),
    ("outside selection", "outside selection"),
    ("not mapped", "not mapped"),
    ("malformed record", "malformed record"),
    ("unreadable record", "unreadable record"),
)


def _reason_kind(reason: str | None) -> str:
    if not reason:
        return "kept"
    return next((kind for prefix, kind in REASON_KINDS if reason.startswith(prefix)), reason)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
