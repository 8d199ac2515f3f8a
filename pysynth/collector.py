"""Python's cyclic garbage collector, paused around the phases that build many objects and drop
few: analysing a session, solving, building, rendering and certifying a runbook. The collector
would walk the same hundreds of thousands of live objects again and again and find next to
nothing (a third of the time of a 10,000-call synthesis); reference counting still frees every
object that is dropped, and the collector runs again after the phase.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
