"""Engines: how the sources of an input are read into parts, on this machine's cores or on a Dask
cluster (``dask_engine``). Every engine hands the parts back in source order, as soon as all
before them are done, so what is left out of the selection streams out while reading goes on and
the result is exactly that of reading in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import groupby

from pysynth.ingest.classify import Classifier, Part
from pysynth.ingest.readers import STDIN, Source, read_source, read_sources

# Bytes of small sources read in-process before any worker starts: enough to load the models most
# logs use, which forked workers then inherit.
WARM_UP_BYTES = 2 * 1024 * 1024
# The smallest remainder worth workers: below it, forking and pickling cost more than they save.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
# Bytes per task: small enough to keep every worker busy to the end, large enough that the cost
# of a task (queueing and one pickle) does not matter.
TASK_BYTES = 1024 * 1024
# A source at least this large is read (streamed) by this process rather than by one worker.
LARGE_SOURCE_BYTES = 16 * 1024 * 1024
# Records between two hand-overs of what a large source leaves out.
DRAIN_RECORDS = 20_000
# Tasks given to each worker ahead of time: one to run and one waiting, so that no worker idles
# while this process is busy with a task of its own.
TASKS_AHEAD = 2
# Cores used at most: beyond a few, this process, which unpickles every worker's events, is the
# bottleneck.
MAX_CORES = 8


@dataclass(frozen=True, slots=True)
class SourcesTask:
    """Read whole sources into one part."""

    sources: tuple[Source, ...]

    def run(self, classifier: Classifier) -> Part:
        part = Part()
        for records in read_sources(self.sources):
            classifier.add(records, part)
            part.sources += 1
        if part.left_out and isinstance(part.left_out[0], bytes):
            part.left_out = [b"".join(part.left_out)]  # one object to send back, not one per record
        return part


class LocalEngine:
    """This process, helped by worker processes made by fork where the input is large enough.
    Workers inherit the normaliser with the models it has loaded for free."""

    def __init__(self, cores: int | None = None):
        self.cores = cores or usable_cores()

    def parts(self, sources: list[Source], classifier: Classifier, drain: Callable[[Part], None]) -> Iterator[Part]:
        """Parts in source order. ``drain`` is called on a part being read in this process every
        ``DRAIN_RECORDS`` records, to hand on its left-out records early; it must empty them."""
        warm = 0
        for shareable, group in groupby(sources, key=lambda source: source.name != STDIN and source.size < LARGE_SOURCE_BYTES):
            group = list(group)
            if not shareable:
                for source in group:
                    yield self._read_here(source, classifier, drain)
                continue
            first = 0
            while first < len(group) and warm < WARM_UP_BYTES:
                warm += group[first].size
                first += 1
            for task in batch(group[:first]):
                yield task.run(classifier)
            group = group[first:]
            if self.cores > 1 and sum(source.size for source in group) >= PARALLEL_MIN_BYTES:
                yield from ordered_results(batch(group), classifier, self.cores)
            else:
                for task in batch(group):
                    yield task.run(classifier)

    @staticmethod
    def _read_here(source: Source, classifier: Classifier, drain: Callable[[Part], None]) -> Part:
        part = Part()
        classifier.add(read_source(source), part, every=(DRAIN_RECORDS, drain))
        part.sources = 1
        return part


def batch(sources: Iterable[Source]) -> list[SourcesTask]:
    """Consecutive sources grouped into tasks of about ``TASK_BYTES``."""
    tasks, current, size = [], [], 0
    for source in sources:
        current.append(source)
        size += source.size
        if size >= TASK_BYTES:
            tasks.append(SourcesTask(tuple(current)))
            current, size = [], 0
    if current:
        tasks.append(SourcesTask(tuple(current)))
    return tasks


def ordered_results(tasks: list[SourcesTask], classifier: Classifier, cores: int) -> Iterator[Part]:
    """Every task's part, in task order, as soon as it and all before it are done.

    ``cores - 1`` worker processes are kept ``TASKS_AHEAD`` tasks ahead while this process runs
    the next task not given out. A task no worker finished, for whatever reason (no processes to
    be had, a worker killed, a result that would not pickle), is run here instead: a failure costs
    time, never records. (No task is ever cancelled: on Python 3.11 a pool that breaks with a
    cancelled task pending prints a traceback.)
    """
    executor = None
    try:
        executor = ProcessPoolExecutor(
            cores - 1, mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker, initargs=(classifier,),
        )
    except Exception:  # noqa: BLE001 - no workers to be had: every task runs here
        pass
    pending: deque[tuple[int, Future | Part]] = deque()
    workers_busy = 0
    window = TASKS_AHEAD * cores + 1
    next_task = 0
    try:
        while next_task < len(tasks) or pending:
            workers_busy = sum(1 for _, result in pending if isinstance(result, Future) and not result.done())
            while executor is not None and workers_busy < TASKS_AHEAD * (cores - 1) and next_task < len(tasks):
                try:
                    pending.append((next_task, executor.submit(_run_in_worker, tasks[next_task])))
                except Exception:  # noqa: BLE001 - the pool is broken: the rest runs here
                    executor.shutdown()
                    executor = None
                    break
                next_task += 1
                workers_busy += 1
            if next_task < len(tasks) and len(pending) < window:
                pending.append((next_task, tasks[next_task].run(classifier)))
                next_task += 1
            while pending and (not isinstance(pending[0][1], Future) or pending[0][1].done()
                               or len(pending) >= window or next_task >= len(tasks)):
                index, result = pending.popleft()
                if isinstance(result, Future):
                    try:
                        result = result.result()
                    except Exception:  # noqa: BLE001 - whatever went wrong in the worker
                        result = tasks[index].run(classifier)
                yield result
    finally:
        if executor is not None:
            executor.shutdown()


_worker_classifier: Classifier | None = None


def _start_worker(classifier: Classifier) -> None:
    global _worker_classifier
    _worker_classifier = classifier
    # Ctrl-C is the main process's to handle; it shuts the workers down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_worker(task: SourcesTask) -> Part:
    return task.run(_worker_classifier)


def usable_cores() -> int:
    """Cores worth using, counting this process. Only on Linux: elsewhere fork is either missing
    (Windows) or unsafe once system libraries are loaded (macOS), and reading stays in-process."""
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(len(os.sched_getaffinity(0)), MAX_CORES)
