"""Certify that a runbook reproduces a log, from the runbook and the log alone.

No solver state is used, so hand edits are caught as surely as synthesis mistakes. The runbook is
replayed symbolically: inputs take their defaults; a step output takes the value at its path in the
response of the record its step reproduces; ``global:`` values are the session's account id,
region and partition. Each ``aws:executeAwsApi`` step is then matched to a kept call of the log with
the same service, operation and request (the call's parameters without the idempotency tokens
botocore makes afresh; a value the log hides is matched by a secret input and nothing else).

Every problem is reported once, with one line that says what to fix (``Problem.kind`` below).
A call that repeats its step's call exactly, with no call in between using any of its values,
is a retry: the same step covers it (``pysynth.facts`` merges retries by the same rule).

The modules: ``problems`` (kinds, problems, verdicts), ``values`` (values during the replay),
``replay`` (steps matched to calls, and each matched step's problems) and ``plan`` (the order,
waits and retries against the log's evidence).
"""

from __future__ import annotations

import heapq

from rich.table import Table

from pysynth import collector
from pysynth.ingest.events import Event
from pysynth.model import EXECUTE_AWS_API, Runbook
from pysynth.verify.plan import plan_problems
from pysynth.verify.problems import RECORDS_DIFFER, Problem, Verdict
from pysynth.verify.replay import Replay
from pysynth.verify.values import record_text, records_text

__all__ = ["Problem", "Verdict", "check_synthesized", "matches_table", "verify"]


def verify(runbook: Runbook, calls: list[Event], reads: list[Event] = (), failed: list[Event] = (),
           *, require_waits: bool = True, require_retries: bool = True) -> Verdict:
    """Check ``runbook`` against the kept calls of a log, in log order. ``reads`` (successful read
    calls) are what read and wait steps may make and the evidence of polling; ``failed`` (failed
    calls) the evidence of retries. ``require_waits``/``require_retries``: a missing wait or retry
    where the log shows polling or failures is a problem."""
    with collector.paused():
        replay = Replay(runbook, list(heapq.merge(calls, reads, key=lambda event: event.epoch)))
        verdict = replay.run()
        verdict.problems += plan_problems(
            runbook, replay.calls, replay.matched, failed, require_waits=require_waits, require_retries=require_retries,
        )
    return verdict


def check_synthesized(runbook: Runbook, calls: list[Event], reads: list[Event] = (), failed: list[Event] = (),
                      *, require_waits: bool = True, require_retries: bool = True) -> Verdict:
    """``verify``, and also that every step reproduces exactly the records it claims to (the
    records its description names)."""
    verdict = verify(runbook, calls, reads, failed, require_waits=require_waits, require_retries=require_retries)
    matched = dict(verdict.matches)
    for step in runbook.steps:
        claimed = [(record.file, record.index) for record in step.records]
        found = [(record.file, record.index) for record in matched.get(step.name, [])]
        if claimed != found:
            verdict.problems.append(Problem(
                RECORDS_DIFFER,
                f"step {step.name} claims to reproduce {records_text(step.records)}, "
                f"but reproduces {records_text(matched.get(step.name, []))}",
                step=step.name,
            ))
    return verdict


def matches_table(runbook: Runbook, verdict: Verdict) -> Table:
    table = Table(title="verified steps" if verdict.certified else "steps")
    for column in ("step", "call", "reproduces"):
        table.add_column(column)
    for (name, records), step in zip(verdict.matches, runbook.steps):
        call = f"{step.service} {step.api}" if step.action == EXECUTE_AWS_API else step.action
        table.add_row(name, call, "\n".join(record_text(record) for record in records) or "no record")
    return table
