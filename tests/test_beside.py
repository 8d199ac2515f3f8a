"""Work run beside: its result comes back from a forked child, and whatever goes wrong there costs
time, never the result or the error the work would raise."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest

from pysynth.beside import Beside
from pysynth.ingest.engines import usable_cores


@pytest.mark.skipif(usable_cores() < 2, reason="one usable core: the work runs in this process")
def test_the_work_runs_in_a_child_and_its_result_comes_back():
    with Beside(lambda: (os.getpid(), [{"kind": "value-differs"}])) as beside:
        child, result = beside.result()
    assert child != os.getpid()
    assert result == [{"kind": "value-differs"}]


def test_a_child_that_dies_leaves_the_work_to_this_process():
    parent = os.getpid()

    def work() -> int:
        if os.getpid() != parent:
            os._exit(1)  # the child dies without a word
        return os.getpid()

    assert Beside(work).result() == parent


def test_an_error_of_the_work_is_raised_here():
    def work() -> None:
        raise ValueError("the runbook is broken")

    with pytest.raises(ValueError, match="the runbook is broken"):
        Beside(work).result()


def test_a_result_that_will_not_pickle_is_made_here():
    pid, lock = Beside(lambda: (os.getpid(), threading.Lock())).result()
    assert pid == os.getpid()
    assert lock.acquire(blocking=False)


def test_a_child_whose_result_is_not_asked_for_is_stopped():
    started = time.monotonic()
    with pytest.raises(KeyError):
        with Beside(lambda: time.sleep(60)):
            raise KeyError("the rendering failed")
    assert multiprocessing.active_children() == []
    assert time.monotonic() - started < 30
