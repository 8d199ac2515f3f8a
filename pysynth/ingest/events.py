"""Events: one per input record, carrying where it came from, who made it, its canonical call
and whether it was kept (with the reason when it was not); how records become events, and the
``events --json`` line of an event."""

from __future__ import annotations

import base64
import copyreg
import json
import sys
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from operator import attrgetter

import orjson

from pysynth.ingest.calls import CanonicalCall, NotMappable
from pysynth.ingest.normalize import Normalizer
from pysynth.ingest.parsing import RawRecord, ReadProblem

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
    # When the credentials' session began (``sessionContext.attributes.creationDate``): two
    # sessions of one role session name are told apart by it.
    session_created: str | None = None

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
    ``userName``, ``accessKeyId`` and the session's ``creationDate``."""
    if not isinstance(identity, dict):
        return NO_PRINCIPAL
    arn = _text(identity.get("arn"))
    kind = _text(identity.get("type"))
    principal = Principal(
        arn=arn,
        kind=kind,
        user_name=_text(identity.get("userName")),
        access_key_id=_text(identity.get("accessKeyId")),
        session_created=_session_created(identity),
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


def _session_created(identity: dict) -> str | None:
    context = identity.get("sessionContext")
    attributes = context.get("attributes") if context.__class__ is dict else None
    return _text(attributes.get("creationDate")) if attributes.__class__ is dict else None


def parse_time(value: object) -> float | None:
    """Seconds since the epoch for CloudTrail's ``eventTime`` (``2023-07-10T11:54:38Z``)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


INFINITY = float("inf")  # the epoch of a record without a time: it goes last


class EventBuilder:
    """Turns raw records into events. Records repeat the same few principals, times and names:
    they are parsed once and shared, which saves both time and memory. ``event_of`` reads what
    selecting needs; ``normalise`` maps the record onto botocore's model, for the records a
    selection keeps."""

    CACHE_LIMIT = 65_536  # entries a cache may hold before it is emptied, so memory stays bounded

    def __init__(self, normalizer: Normalizer | None = None):
        self.normalizer = normalizer or Normalizer()
        self._principals: dict[tuple, Principal] = {}
        self._epochs: dict[str, float | None] = {}

    def event_of(self, raw: RawRecord) -> Event:
        """The event of a record, without its canonical call; dropped when it is malformed."""
        record = raw.data
        get = record.get
        source, name, event_time = get("eventSource"), get("eventName"), get("eventTime")
        identity = get("userIdentity")
        epoch = self._epoch(event_time)
        flag = get("readOnly")
        event = Event(
            file=raw.file,
            index=raw.index,
            event_id=_text(get("eventID")),
            time=_text(event_time),
            epoch=INFINITY if epoch is None else epoch,
            principal=self._principal(identity),
            region=_name(get("awsRegion")),
            event_source=_name(source),
            event_name=_name(name),
            event_type=_name(get("eventType")),
            read_only=flag if flag.__class__ is bool else False,
            error_code=_name(get("errorCode")),
            invoked_by=_name(identity.get("invokedBy")) if identity.__class__ is dict else None,
            user_agent=_name(get("userAgent")),
        )
        if not (source.__class__ is str and name.__class__ is str and event_time.__class__ is str):
            if event.event_type and event.event_type != "AwsApiCall" and epoch is not None:
                # An Insights or service event names no call of its own: nothing is missing.
                event.drop(f"not an API call ({event.event_type})")
                return event
            missing = [key for key in ("eventSource", "eventName", "eventTime") if not isinstance(get(key), str)]
            event.drop(f"malformed record: no {' or '.join(missing)}")
            return event
        if epoch is None:
            event.drop(f"malformed record: eventTime {event_time[:40]!r} is not a time")
        return event

    def normalise(self, event: Event, record: dict) -> None:
        """Give ``event`` its canonical call, or the reason it has none."""
        normalizer = self.normalizer
        try:
            event.call = normalizer.normalize(record)
        except NotMappable as reason:
            event.unmapped_reason = str(reason)
        except Exception as error:  # noqa: BLE001 - one bad record must not stop the others
            event.unmapped_reason = f"internal error while normalising ({type(error).__name__}: {error})"
        if event.call and record.get("readOnly").__class__ is not bool:
            event.read_only = normalizer.is_read_only(event.call.service, event.call.operation)

    def _epoch(self, event_time: object) -> float | None:
        if event_time.__class__ is not str:
            return None
        try:
            return self._epochs[event_time]
        except KeyError:
            epoch = parse_time(event_time)
        if len(self._epochs) >= self.CACHE_LIMIT:
            self._epochs.clear()
        self._epochs[event_time] = epoch
        return epoch

    def well_formed_principal(self, record: dict) -> Principal | None:
        """The principal of a record that has an event source, name and time (else None): enough
        to tell whether a selection of one principal leaves it out."""
        get = record.get
        if (get("eventSource").__class__ is str and get("eventName").__class__ is str
                and self._epoch(get("eventTime")) is not None):
            return self._principal(get("userIdentity"))
        return None

    def _principal(self, identity: object) -> Principal:
        if identity.__class__ is not dict:
            return NO_PRINCIPAL
        get = identity.get
        # The session's creation time looked up in place: this runs for every record read.
        context = get("sessionContext")
        attributes = context.get("attributes") if context.__class__ is dict else None
        created = attributes.get("creationDate") if attributes.__class__ is dict else None
        key = (get("type"), get("arn"), get("userName"), get("accessKeyId"), created)
        try:
            return self._principals[key]
        except KeyError:
            principal = principal_of(identity)
        except TypeError:  # a value logged as an object or a list: unhashable, and rare
            return principal_of(identity)
        if len(self._principals) >= self.CACHE_LIMIT:
            self._principals.clear()
        self._principals[key] = principal
        return principal


def unreadable_event(problem: ReadProblem) -> Event:
    event = Event(
        file=problem.file, index=problem.index or 0, event_id=None, time=None, epoch=INFINITY,
        principal=NO_PRINCIPAL, region=None, event_source=None, event_name=None,
        event_type=None, read_only=False, error_code=None, invoked_by=None,
    )
    event.drop(f"unreadable record: {problem.message}")
    return event


class LeftOutLines:
    """The ``events --json`` line of a well-formed record dropped before normalising, written
    straight from the record: byte for byte what ``json_line`` writes for its event, a few times
    faster. The values that repeat (file, time, region, names, principal and reason) are encoded
    once; only the event id is encoded per record."""

    CACHE_LIMIT = 65_536

    def __init__(self) -> None:
        self._encoded: dict[object, bytes] = {}

    def line(self, raw: RawRecord, principal: Principal, reason: str) -> bytes:
        get = raw.data.get
        encoded = self._encode
        flag = get("readOnly")
        return b"".join((
            b'{"record":{"file":', encoded(raw.file), b',"index":', str(raw.index).encode(),
            b'},"event_id":', orjson.dumps(_text(get("eventID"))),
            b',"time":', encoded(get("eventTime")),
            b',"principal":', encoded(principal.label),
            b',"region":', encoded(_text(get("awsRegion"))),
            b',"event_source":', encoded(_text(get("eventSource"))),
            b',"event_name":', encoded(_text(get("eventName"))),
            b',"service":null,"operation":null,"read_only":', b"true" if flag is True else b"false",
            b',"params":null,"response":null,"hidden":[],"status":"dropped","reason":', encoded(reason),
            b',"notes":[]}\n',
        ))

    def _encode(self, value: str | None) -> bytes:
        try:
            return self._encoded[value]
        except KeyError:
            encoded = orjson.dumps(value)
        if len(self._encoded) >= self.CACHE_LIMIT:
            self._encoded.clear()
        self._encoded[value] = encoded
        return encoded


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


def _name(value: object) -> str | None:
    """Text that repeats across records (a region, an event name, a user agent), interned: one
    string in memory however many events share it."""
    return sys.intern(value) if value.__class__ is str and value else None
