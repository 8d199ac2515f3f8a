"""Ordering and selection: merge records across files by time, remove duplicates, break ties in
the same second by data-flow evidence, and decide for every record whether it is kept and why not.
A large input is normalised on every core (see "reading on every core").
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

from pysynth.ingest.calls import NotMappable
from pysynth.ingest.events import DROPPED, NO_PRINCIPAL, Event, Principal, parse_time, principal_of
from pysynth.ingest.normalize import Normalizer
from pysynth.ingest.readers import STDIN, RawRecord, ReadProblem, expand_inputs, read_file

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

    @property
    def failed(self) -> list[Event]:
        """Failed calls of the selection that map onto an operation: the evidence of retries (a
        call that failed, then succeeded with the same request) for later layers."""
        return [event for event in self.events if event.call and (event.reason or "").startswith(FAILED_CALL)]

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

    ``on_file(name, position, total)`` reports progress: it is called once per file, ``position``
    counting up from 0 (a file read by a worker is reported when it is done, so not always in
    name order).
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
    problems: list[ReadProblem] = []
    files: list[str] = []
    for item in expand_inputs(paths):
        if isinstance(item, ReadProblem):
            problems.append(item)
        else:
            files.append(item)
    events = _Reading(files, EventBuilder(normalizer), problems, on_file).events()
    order_events(events)
    ingested = Ingested(events, problems, files_read=len(files))
    ingested.principal_writes = classify(events, selection)
    if selection.principal is None and not selection.all_principals and len(ingested.principal_writes) > 1:
        raise AmbiguousPrincipal(ingested.principal_writes)
    return ingested


class EventBuilder:
    """Turns raw records into events. Records repeat the same few principals, times and names:
    they are parsed once and shared, which saves both time and memory."""

    CACHE_LIMIT = 65_536  # entries a cache may hold before it is emptied, so memory stays bounded

    def __init__(self, normalizer: Normalizer):
        self.normalizer = normalizer
        self._principals: dict[tuple, Principal] = {}
        self._epochs: dict[str, float | None] = {}

    def event_of(self, raw: RawRecord) -> Event:
        record = raw.data
        get = record.get
        source, name, event_time = get("eventSource"), get("eventName"), get("eventTime")
        identity = get("userIdentity")
        epoch = self._epoch(event_time)
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
            read_only=False,
            error_code=_name(get("errorCode")),
            invoked_by=_name(identity.get("invokedBy")) if isinstance(identity, dict) else None,
            user_agent=_name(get("userAgent")),
        )
        if not (isinstance(source, str) and isinstance(name, str) and isinstance(event_time, str)):
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
        normalizer = self.normalizer
        try:
            event.call = normalizer.normalize(record)
        except NotMappable as reason:
            event.unmapped_reason = str(reason)
        except Exception as error:  # noqa: BLE001 - one bad record must not stop the others
            event.unmapped_reason = f"internal error while normalising ({type(error).__name__}: {error})"
        flag = get("readOnly")
        if isinstance(flag, bool):
            event.read_only = flag
        elif event.call:
            event.read_only = normalizer.is_read_only(event.call.service, event.call.operation)
        return event

    def _epoch(self, event_time: object) -> float | None:
        if not isinstance(event_time, str):
            return None
        try:
            return self._epochs[event_time]
        except KeyError:
            epoch = parse_time(event_time)
        if len(self._epochs) >= self.CACHE_LIMIT:
            self._epochs.clear()
        self._epochs[event_time] = epoch
        return epoch

    def _principal(self, identity: object) -> Principal:
        if not isinstance(identity, dict):
            return NO_PRINCIPAL
        get = identity.get
        key = (get("type"), get("arn"), get("userName"), get("accessKeyId"))
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


def _convert(items: Iterable[RawRecord | ReadProblem], builder: EventBuilder, part: _Part) -> None:
    """Add the events of read items to ``part``; problems of a whole file go to its problems."""
    for item in items:
        if item.__class__ is RawRecord:
            part.events.append(builder.event_of(item))
        elif item.index is None:
            part.problems.append(item)
        else:
            part.events.append(unreadable_event(item))


# --------------------------------------------------------------------------- reading on every core
#
# Normalising is per-record Python work, so a large input is shared out between this process and
# worker processes made by fork, which inherit for free the normaliser with the models it has
# loaded and any file this process has parsed. A task is a few files to read, or a range of the
# records of a parsed file. Workers send their events back pickled; every task's events are put
# in input order, so the result is exactly that of reading in-process. Ordering, classifying and
# writing stay in this process.

# Records read in-process before any worker starts: enough to load the models most logs use.
WARM_UP_RECORDS = 2_000
# The smallest remainder worth workers: below it, forking and pickling cost more than they save.
PARALLEL_MIN_RECORDS = 20_000
# Records per task: small enough to keep every worker busy to the end, large enough that the
# cost of a task (queueing and one pickle) does not matter.
TASK_RECORDS = 2_000
# Tasks given to each worker ahead of time: one to run and one waiting, so that no worker idles
# while this process is busy with a task of its own.
TASKS_AHEAD = 2
# A file at least this large is parsed by the main process and its records are shared out,
# rather than being read by one worker.
LARGE_FILE_BYTES = 16 * 1024 * 1024
# Cores used at most: beyond a few, this process, which unpickles every worker's events, is the
# bottleneck.
MAX_CORES = 8


@dataclass(slots=True)
class _Part:
    """The events and file problems of some records, in input order."""

    events: list[Event] = field(default_factory=list)
    problems: list[ReadProblem] = field(default_factory=list)

    def add(self, other: _Part) -> None:
        self.events += other.events
        self.problems += other.problems


@dataclass(frozen=True, slots=True)
class _FilesTask:
    """Read and convert whole files."""

    names: tuple[str, ...]

    def run(self, builder: EventBuilder, shared: list) -> _Part:
        part = _Part()
        for name in self.names:
            _convert(read_file(name), builder, part)
        return part


@dataclass(frozen=True, slots=True)
class _RecordsTask:
    """Convert ``shared[start:stop]``: items of a file the main process parsed before forking."""

    start: int
    stop: int
    names = ()  # no files of its own to report progress for

    def run(self, builder: EventBuilder, shared: list) -> _Part:
        part = _Part()
        _convert(shared[self.start:self.stop], builder, part)
        return part


class _Reading:
    """Reads files one at a time into events, in input order, on every core when it pays.

    Consecutive files a worker can read (not stdin, not large) form a run. A run is read
    in-process until ``WARM_UP_RECORDS`` records are read; if the rest of the run looks large, it
    goes to workers. A file with many records, however it was read, has them shared out.
    """

    def __init__(self, files: list[str], builder: EventBuilder, problems: list[ReadProblem], on_file):
        self.files = files
        self.sizes = {name: _size(name) for name in files}
        self.builder = builder
        self.on_file = on_file
        self.cores = _usable_cores()
        self.read = _Part(problems=problems)
        self.position = 0  # of the next file to report to on_file
        self.bytes_read = 0

    def events(self) -> list[Event]:
        for shareable, names in groupby(self.files, key=self._worker_can_read):
            if shareable:
                self._read_run(list(names))
            else:
                for name in names:
                    self._read_file(name)
        return self.read.events

    def _worker_can_read(self, name: str) -> bool:
        return name != STDIN and self.sizes[name] < LARGE_FILE_BYTES

    def _read_run(self, names: list[str]) -> None:
        first = 0
        while first < len(names) and len(self.read.events) < WARM_UP_RECORDS:
            self._read_file(names[first])
            first += 1
        rest = names[first:]
        rest_bytes = sum(self.sizes[name] for name in rest)
        # Records estimated from the bytes per record so far: compressed or not, indented or not.
        records_per_byte = len(self.read.events) / max(self.bytes_read, 1)
        if self.cores > 1 and rest_bytes * records_per_byte >= PARALLEL_MIN_RECORDS:
            self._share_out(self._file_tasks(rest, records_per_byte), shared=[])
            self.bytes_read += rest_bytes
        else:
            for name in rest:
                self._read_file(name)

    def _read_file(self, name: str) -> None:
        self._progress(name)
        items = list(read_file(name))
        warm_up = max(WARM_UP_RECORDS - len(self.read.events), 0)
        if self.cores > 1 and len(items) - warm_up >= PARALLEL_MIN_RECORDS:
            _convert(items[:warm_up], self.builder, self.read)
            tasks = [
                _RecordsTask(start, min(start + TASK_RECORDS, len(items)))
                for start in range(warm_up, len(items), TASK_RECORDS)
            ]
            self._share_out(tasks, shared=items)
        else:
            _convert(items, self.builder, self.read)
        self.bytes_read += self.sizes[name]

    def _file_tasks(self, names: list[str], records_per_byte: float) -> list[_FilesTask]:
        """Consecutive files grouped into tasks of about ``TASK_RECORDS`` records."""
        tasks, batch, batch_bytes = [], [], 0
        for name in names:
            batch.append(name)
            batch_bytes += self.sizes[name]
            if batch_bytes * records_per_byte >= TASK_RECORDS:
                tasks.append(_FilesTask(tuple(batch)))
                batch, batch_bytes = [], 0
        if batch:
            tasks.append(_FilesTask(tuple(batch)))
        return tasks

    def _share_out(self, tasks: list, shared: list) -> None:
        def done(task) -> None:
            for name in task.names:
                self._progress(name)

        for result in _results(tasks, self.builder, shared, self.cores, done):
            self.read.add(result)

    def _progress(self, name: str) -> None:
        if self.on_file:
            self.on_file(name, self.position, len(self.files))
        self.position += 1


def _results(tasks: list, builder: EventBuilder, shared: list, cores: int, done: Callable) -> list[_Part]:
    """Every task's result, in task order, with ``done(task)`` called as each task is done.

    ``cores - 1`` worker processes take tasks from the front, each kept ``TASKS_AHEAD`` tasks
    ahead, while this process takes them from the back, until they meet. A task no worker
    finished, for whatever reason (no processes to be had, a worker killed, a result that would
    not pickle), is run here instead: a failure costs time, never records. (No task is ever
    cancelled: on Python 3.11 a pool that breaks with a cancelled task pending prints a traceback.)
    """
    results: list[_Part | None] = [None] * len(tasks)
    submitted: list[Future] = []  # the futures of tasks[:len(submitted)]
    in_flight: deque[int] = deque()  # indexes of submitted tasks not known to be done, in order
    executor = None
    try:
        executor = ProcessPoolExecutor(
            cores - 1, mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker, initargs=(builder, shared),
        )
    except Exception:  # noqa: BLE001 - no workers to be had: every task runs here
        pass
    try:
        back = len(tasks)  # tasks[back:] are run here
        while len(submitted) < back:
            while in_flight and submitted[in_flight[0]].done():
                done(tasks[in_flight.popleft()])
            while executor is not None and len(in_flight) < TASKS_AHEAD * (cores - 1) and len(submitted) < back:
                try:
                    submitted.append(executor.submit(_run_in_worker, tasks[len(submitted)]))
                except Exception:  # noqa: BLE001 - the pool is broken: the rest runs here
                    executor.shutdown()
                    executor = None
                    break
                in_flight.append(len(submitted) - 1)
            if len(submitted) < back:
                back -= 1
                results[back] = tasks[back].run(builder, shared)
                done(tasks[back])
        for index, future in enumerate(submitted):
            try:
                results[index] = future.result()
            except Exception:  # noqa: BLE001 - whatever went wrong in the worker
                results[index] = tasks[index].run(builder, shared)
            if in_flight and in_flight[0] == index:
                done(tasks[in_flight.popleft()])
    finally:
        if executor is not None:
            executor.shutdown()
    return results


_worker_state: tuple[EventBuilder, list] | None = None


def _start_worker(builder: EventBuilder, shared: list) -> None:
    global _worker_state
    _worker_state = builder, shared
    # Ctrl-C is the main process's to handle; it shuts the workers down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_worker(task: _FilesTask | _RecordsTask) -> _Part:
    return task.run(*_worker_state)


def _usable_cores() -> int:
    """Cores worth using, counting this process. Only on Linux: elsewhere fork is either missing
    (Windows) or unsafe once system libraries are loaded (macOS), and reading stays in-process."""
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(len(os.sched_getaffinity(0)), MAX_CORES)


def _size(name: str) -> int:
    try:
        return os.path.getsize(name)
    except OSError:
        return 0


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
        return f"{FAILED_CALL}{event.error_code})"
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


INFINITY = float("inf")  # the epoch of a record without a time: it goes last


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _name(value: object) -> str | None:
    """Text that repeats across records (a region, an event name, a user agent), interned: one
    string in memory however many events share it."""
    return sys.intern(value) if value.__class__ is str and value else None
