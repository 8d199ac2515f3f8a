"""The analysed session: calls, slots, outputs and polls, as the facts are made from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, field

import botocore.model

from pysynth.evidence import Failures
from pysynth.facts.loops import Derivation, LoopCandidate
from pysynth.ingest.events import Event
from pysynth.solve import Fact
from pysynth.facts.emit import session_facts, storable

if TYPE_CHECKING:
    from pysynth.facts.demos import Alignment

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
    # A whole map or structure that an earlier response holds as it is (GetItem's Item, put
    # elsewhere): the runbook copies it whole, or spells it out through the slots within it.
    whole: bool = False
    within: int | None = None  # the whole slot this one lies in
    # For a value in an item's key (DynamoDB's Key): the key attribute it is the value of ("id").
    key_attribute: str | None = None


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
    loops: list[LoopCandidate] = field(default_factory=list)  # pysynth.facts.loops
    # Every way a loop's varying value follows from it, numbered from 1 in the facts.
    derivations: list[Derivation] = field(default_factory=list)
    # Call -> the error code it failed with: a probe a branch may test (several demonstrations).
    outcomes: dict[int, str] = field(default_factory=dict)
    # Several demonstrations: which call is whose, and the candidates aligning them (facts.demos).
    alignment: Alignment | None = None

    def demonstration_of(self, call: int) -> int:
        """The demonstration (from 1) the call belongs to."""
        return self.alignment.demo_of_call[call - 1] if self.alignment else 1

    def call_event(self, call: int) -> Event:
        return self.calls[call - 1]

    def is_read(self, call: int) -> bool:
        return self.calls[call - 1].read_only

    def facts(self) -> list[Fact]:
        return [storable(fact) for fact in session_facts(self)]

@dataclass(slots=True)
class Poll:
    """A series of identical reads that polled a value: ``call`` is the last read (a read call of
    the session), ``consumer`` the first write call after it that uses the value."""

    call: int
    reads: int
    waiters: list[str]
    accepted: list[str]
    consumer: int | None
