"""Events: one per input record, carrying where it came from, who made it, its canonical call
and whether it was kept (with the reason when it was not)."""

from __future__ import annotations

import copyreg
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from operator import attrgetter

from pysynth.ingest.calls import CanonicalCall

KEPT = "kept"
DROPPED = "dropped"


@dataclass(slots=True)
class Principal:
    """Who made a call, with every name a user may choose it by (``--principal``)."""

    arn: str | None
    kind: str | None
    user_name: str | None = None
    session_name: str | None = None
    role_name: str | None = None
    access_key_id: str | None = None

    @property
    def label(self) -> str:
        return self.arn or self.user_name or self.kind or "unknown"

    def answers_to(self, name: str) -> bool:
        return name in (self.arn, self.user_name, self.session_name, self.role_name, self.access_key_id)


@dataclass(slots=True)
class Event:
    file: str
    index: int
    event_id: str | None
    time: str | None
    epoch: float
    principal: Principal
    region: str | None
    event_source: str | None
    event_name: str | None
    event_type: str | None
    read_only: bool
    error_code: str | None
    invoked_by: str | None
    user_agent: str | None = None
    call: CanonicalCall | None = None
    status: str = KEPT
    reason: str | None = None
    unmapped_reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def service(self) -> str | None:
        return self.call.service if self.call else None

    @property
    def operation(self) -> str | None:
        return self.call.operation if self.call else None

    @property
    def kept(self) -> bool:
        return self.status == KEPT

    def drop(self, reason: str) -> None:
        if self.status == KEPT:
            self.status, self.reason = DROPPED, reason

    def to_json(self) -> dict:
        """The documented ``events --json`` object (see README, "events --json")."""
        call = self.call
        return {
            "record": {"file": self.file, "index": self.index},
            "event_id": self.event_id,
            "time": self.time,
            "principal": self.principal.label,
            "region": self.region,
            "event_source": self.event_source,
            "event_name": self.event_name,
            "service": call.service if call else None,
            "operation": call.operation if call else None,
            "read_only": self.read_only,
            "params": call.params if call else None,
            "response": call.response if call else None,
            "hidden": call.hidden if call else [],
            "status": self.status,
            "reason": self.reason,
            "notes": [*call.notes, *self.notes] if call else list(self.notes),
        }


NO_PRINCIPAL = Principal(arn=None, kind=None)


def _pickle_as_field_tuple(cls: type) -> None:
    """Pickle instances of a dataclass as the class and a tuple of its fields. Worker processes
    send events back pickled, and the default for slotted classes (a dictionary of the slots per
    instance) takes twice the time to write and three times the time to read."""
    field_values = attrgetter(*(field.name for field in fields(cls)))
    copyreg.pickle(cls, lambda instance: (cls, field_values(instance)))


_pickle_as_field_tuple(Event)
_pickle_as_field_tuple(Principal)
_pickle_as_field_tuple(CanonicalCall)


def principal_of(identity: object) -> Principal:
    """The principal of a record's ``userIdentity``; it depends only on ``type``, ``arn``,
    ``userName`` and ``accessKeyId``."""
    if not isinstance(identity, dict):
        return NO_PRINCIPAL
    arn = _text(identity.get("arn"))
    kind = _text(identity.get("type"))
    principal = Principal(
        arn=arn,
        kind=kind,
        user_name=_text(identity.get("userName")),
        access_key_id=_text(identity.get("accessKeyId")),
    )
    if arn and ":assumed-role/" in arn:
        # arn:aws:sts::<account>:assumed-role/<role>/<session>
        parts = arn.split(":assumed-role/", 1)[1].split("/")
        principal.role_name = parts[0]
        principal.session_name = parts[-1] if len(parts) > 1 else None
    elif kind == "Root" and not principal.user_name:
        principal.user_name = "root"
    elif arn and principal.user_name is None and ":user/" in arn:
        principal.user_name = arn.rsplit("/", 1)[-1]
    return principal


def parse_time(value: object) -> float | None:
    """Seconds since the epoch for CloudTrail's ``eventTime`` (``2023-07-10T11:54:38Z``)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
