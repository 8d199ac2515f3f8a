"""Selecting: decide for every record, as it is read, whether the selection keeps it and why not.

A record is judged on what costs nothing first (who made it, where, when, and whether it is
noise), so that records the selection leaves out are counted and never normalised; only the
records of the selection are mapped onto botocore's model. What later layers need stays in memory
(the kept write calls, and the reads and failed calls that are evidence of polling and retries);
every other record is counted by reason and, when someone asked to see it, handed on at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pysynth.ingest.events import (
    DROPPED, Event, EventBuilder, Principal, LeftOutLines, json_line, unreadable_event,
)
from pysynth.ingest.parsing import RawRecord, ReadProblem

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
FAILED_CALL = "failed call ("
OUTSIDE = "outside selection: "
# Noise in a demonstration's calls (pysynth.noise), found after reading.
FIXED_FAILURE = "noise: fixed failure"
CREATED_AND_DELETED = "noise: created and deleted unused"
DUPLICATE_ATTEMPT = "noise: duplicate attempt"

# How records the selection leaves out are handed on: as ``events --json`` lines, as events (for
# a table), or not at all (only counted).
AS_JSON = "json"
AS_EVENTS = "events"


@dataclass(frozen=True, slots=True)
class Selection:
    """What the user asked to look at; ``None`` means no limit."""

    principal: str | None = None
    since: float | None = None
    until: float | None = None
    regions: frozenset[str] | None = None
    all_principals: bool = False


@dataclass(slots=True)
class Part:
    """What reading some records gave: the events held for later layers (in input order), the
    records left out (as ``left_out_as`` asked), counts of those by reason, and problems."""

    held: list[Event] = field(default_factory=list)
    left_out: list = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    records: int = 0
    sources: int = 0
    problems: list[ReadProblem] = field(default_factory=list)

    def add(self, other: Part) -> None:
        self.held += other.held
        self.counts.update(other.counts)
        self.records += other.records
        self.sources += other.sources
        self.problems += other.problems


class Classifier:
    """Reads records into a ``Part``. ``evidence`` keeps the reads and failed calls of the
    selection too; ``left_out_as`` is ``AS_JSON``, ``AS_EVENTS`` or None, and ``outside`` False
    hands on only the left-out records of the selection (noise, failures), not those outside it."""

    def __init__(self, builder: EventBuilder, selection: Selection, evidence: bool = True, left_out_as: str | None = None,
                 outside: bool = True):
        self.builder = builder
        self.selection = selection
        self.evidence = evidence
        self.left_out_as = left_out_as
        self.outside = outside  # whether records outside the selection are handed on too
        self._lines = LeftOutLines()
        # id(principal) -> (principal, the reason the selection leaves it out, or None)
        self._verdicts: dict[int, tuple[Principal, str | None]] = {}

    def add(self, items: Iterator[RawRecord | ReadProblem], part: Part,
            every: tuple[int, Callable[[Part], None]] | None = None) -> None:
        """Add the records of ``items`` to ``part``; ``every=(n, drain)`` calls ``drain(part)``
        every ``n`` records, to hand on what was left out while a large file is still being read."""
        builder, selection, principal = self.builder, self.selection, self.selection.principal
        hold, leave = part.held.append, self._leave
        count_to = every[0] if every else -1
        for item in items:
            if item.__class__ is not RawRecord:
                if item.index is None:
                    part.problems.append(item)
                else:
                    part.records += 1
                    part.problems.append(item)
                    leave(unreadable_event(item), part)
                continue
            part.records += 1
            if part.records == count_to:
                every[1](part)
                count_to += every[0]
            if principal and (self.left_out_as != AS_EVENTS or not self.outside):
                # The common case in a large trail: another principal's record, left out unread.
                who = builder.well_formed_principal(item.data)
                reason = who is not None and self._principal_verdict(who)
                if reason:
                    part.counts[OUTSIDE_KIND] += 1
                    if self.left_out_as == AS_JSON:
                        part.left_out.append(self._lines.line(item, who, reason))
                    continue
            event = builder.event_of(item)
            if event.status == DROPPED:
                if event.reason.startswith("malformed record"):
                    part.problems.append(ReadProblem(event.file, event.index, event.reason))
                leave(event, part)
                continue
            if principal and not event.principal.answers_to(principal):
                event.drop(f"{OUTSIDE}principal {event.principal.label}")
                leave(event, part)
                continue
            reason = outside_selection(event, selection)
            if reason:
                event.drop(reason)
                leave(event, part)
                continue
            reason = noise(event)
            if reason:
                if self.left_out_as:  # someone will look at it: show the call it made
                    builder.normalise(event, item.data)
                event.drop(reason)
                leave(event, part)
                continue
            builder.normalise(event, item.data)
            reason = not_a_change(event)
            if reason is None:
                hold(event)
                continue
            event.drop(reason)
            if self.evidence and event.call and (reason == READ_ONLY or reason.startswith(FAILED_CALL)):
                hold(event)
            else:
                leave(event, part)

    def _principal_verdict(self, principal: Principal) -> str | None:
        verdict = self._verdicts.get(id(principal))
        if verdict is None:
            reason = None if principal.answers_to(self.selection.principal) else f"{OUTSIDE}principal {principal.label}"
            verdict = self._verdicts[id(principal)] = (principal, reason)  # holding it keeps its id unique
        return verdict[1]

    def _leave(self, event: Event, part: Part) -> None:
        part.counts[reason_kind(event.reason)] += 1
        if not self.outside and event.reason.startswith(OUTSIDE):
            return
        if self.left_out_as == AS_JSON:
            part.left_out.append(json_line(event))
        elif self.left_out_as == AS_EVENTS:
            part.left_out.append(event)


def not_a_change(event: Event) -> str | None:
    if event.error_code:
        return f"{FAILED_CALL}{event.error_code})"
    if event.read_only:
        return READ_ONLY
    if event.call is None:
        return f"not mapped: {event.unmapped_reason}"
    return None


def outside_selection(event: Event, selection: Selection) -> str | None:
    if selection.regions and event.region not in selection.regions:
        return f"{OUTSIDE}region {event.region}"
    if selection.since is not None and event.epoch < selection.since:
        return f"{OUTSIDE}before --since ({event.time})"
    if selection.until is not None and event.epoch > selection.until:
        return f"{OUTSIDE}after --until ({event.time})"
    return None


def noise(event: Event) -> str | None:
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
    (FIXED_FAILURE, FIXED_FAILURE),
    (CREATED_AND_DELETED, CREATED_AND_DELETED),
    (DUPLICATE_ATTEMPT, DUPLICATE_ATTEMPT),
    ("outside selection", "outside selection"),
    ("not mapped", "not mapped"),
    ("malformed record", "malformed record"),
    ("unreadable record", "unreadable record"),
)


OUTSIDE_KIND = "outside selection"
_kinds: dict[str, str] = {}


def reason_kind(reason: str | None) -> str:
    if not reason:
        return "kept"
    kind = _kinds.get(reason)
    if kind is None:
        kind = next((kind for prefix, kind in REASON_KINDS if reason.startswith(prefix)), reason)
        if len(_kinds) < 65_536:  # reasons repeat; a bounded cache of them
            _kinds[reason] = kind
    return kind
