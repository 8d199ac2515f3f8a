"""Work run beside this process's own, in a forked child: the child inherits everything in memory,
so nothing is copied to it and only the result comes back. ``synth`` certifies its runbook so while
it renders the text and reads it back, the two checks of one runbook that need nothing of each
other.

Where fork is not to be had (not Linux, a single usable core, no process left) or the child fails
in any way (it dies, raises, or its result will not pickle), the work runs in this process when
its result is asked for: a failure costs time, never a result, and an error is raised here as
if the work had never left.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable
from typing import Generic, TypeVar

from pysynth.ingest.engines import usable_cores

Result = TypeVar("Result")


class Beside(Generic[Result]):
    """``work()`` started in a child at once; ``result()`` waits for it. As a context manager, a
    child whose result was never asked for is stopped on the way out (an error in between)."""

    def __init__(self, work: Callable[[], Result]):
        self.work = work
        self._child = None
        self._results = None
        if usable_cores() < 2:
            return
        # Buffered output would be written by both processes.
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            context = multiprocessing.get_context("fork")
            self._results, sending = context.Pipe(duplex=False)
            self._child = context.Process(target=_run, args=(work, sending), daemon=True)
            self._child.start()
        except Exception:  # noqa: BLE001 - no child to be had: the work runs here
            self._child = None
            return
        sending.close()

    def result(self) -> Result:
        if self._child is not None:
            try:
                done, value = self._results.recv()
            except Exception:  # noqa: BLE001 - the child died, or its result does not unpickle
                done, value = False, None
            self._stop(finished=done)
            if done:
                return value
        return self.work()

    def __enter__(self) -> Beside[Result]:
        return self

    def __exit__(self, *exception) -> None:
        self._stop()

    def _stop(self, finished: bool = False) -> None:
        """Reap the child: one that sent its result is on its way out, any other is stopped."""
        if self._child is None:
            return
        child, self._child = self._child, None
        self._results.close()
        if not finished:
            child.terminate()
        child.join()


def _run(work: Callable[[], object], sending) -> None:
    # Ctrl-C is the parent's to handle; it stops the child.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        outcome = (True, work())
    except BaseException:  # noqa: BLE001 - the parent runs the work again and meets the error itself
        outcome = (False, None)
    try:
        sending.send(outcome)
    except Exception:  # noqa: BLE001 - a result that will not pickle: the parent runs the work
        sending.send((False, None))
