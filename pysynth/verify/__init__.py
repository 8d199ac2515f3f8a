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

A loop step is replayed iteration by iteration: its list is its input's default, or the list
output (filtered by its condition) in the logged response of the step that listed it; each
iteration binds the loop's element and number, and its body's steps must match the next logged
calls one for one and in order, their outputs read from the calls of the same iteration. A list
longer or shorter than the iterations the log shows is a problem, and so is a list the log cannot
give (CloudTrail logs no response for reads). A batch step's one call must send what its logged
calls sent together, in order.

The modules: ``problems`` (kinds, problems, verdicts), ``values`` (values during the replay),
``instances`` (a step in each iteration of its loops), ``replay`` (instances matched to calls),
``checks`` (the runbook's own problems and each matched step's), ``batches`` and ``loops`` (batch
steps, and loops' iteration counts) and ``plan`` (the order, waits and retries against the log's
evidence).
"""

from __future__ import annotations

import heapq

from rich.table import Table
from rich.text import Text

from pysynth import collector
from pysynth.ingest.events import Event
from pysynth.model import EXECUTE_AWS_API, Runbook, Step, walk
from pysynth.render.prose import plural, walked_text
from pysynth.verify.loops import collapsed
from pysynth.verify.plan import plan_problems
from pysynth.verify.problems import RECORDS_DIFFER, Problem, Verdict
from pysynth.verify.replay import Replay
from pysynth.verify.values import record_text, records_text

# A step in a loop makes a call per iteration: the table names this many of them.
TABLE_RECORDS = 5

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
        placed = [(instance, [replay.matched[instance.key], *replay.batched.get(instance.key, ())])
                  for instance in replay.instances if instance.key in replay.matched]
        verdict.problems += collapsed(plan_problems(
            placed, replay.calls, failed, require_waits=require_waits, require_retries=require_retries,
        ))
    return verdict


def check_synthesized(runbook: Runbook, calls: list[Event], reads: list[Event] = (), failed: list[Event] = (),
                      *, require_waits: bool = True, require_retries: bool = True) -> Verdict:
    """``verify``, and also that every step reproduces exactly the records it claims to (the
    records its description names: a step in a loop's body, those of its first iteration; a loop
    step, those its body makes in all its iterations) and that each loop runs as many iterations as
    it claims the log shows (the first time it runs, inside an enclosing loop)."""
    verdict = verify(runbook, calls, reads, failed, require_waits=require_waits, require_retries=require_retries)
    matched = dict(verdict.matches)
    loop_body = {inner.name for step in walk(runbook.steps) if step.loop is not None for inner in walk(step.loop.steps)}
    for step in walk(runbook.steps):
        if step.loop is not None:
            walked = verdict.iterations.get(step.name)
            if walked and walked[0] != step.loop.iterations:
                verdict.problems.append(Problem(
                    RECORDS_DIFFER,
                    f"loop {step.name} claims the log shows {plural(step.loop.iterations, 'iteration')}, "
                    f"but it walks {plural(walked[0], 'element')}",
                    step=step.name,
                ))
        if step.loop is not None or step.name in loop_body:
            found = verdict.first_iterations.get(step.name, [])
        else:
            found = matched.get(step.name, [])
        claimed = [(record.file, record.index) for record in step.records]
        if claimed != [(record.file, record.index) for record in found]:
            verdict.problems.append(Problem(
                RECORDS_DIFFER,
                f"step {step.name} claims to reproduce {records_text(step.records)}, "
                f"but reproduces {records_text(found)}",
                step=step.name,
            ))
    return verdict


def matches_table(runbook: Runbook, verdict: Verdict) -> Table:
    """Each step, a loop's body indented under it, with the calls it makes: a loop step with how
    many iterations it ran, a step in a loop with its calls in every iteration."""
    table = Table(title="verified steps" if verdict.certified else "steps")
    for column in ("step", "call", "reproduces"):
        table.add_column(column)
    matched = dict(verdict.matches)
    for step, depth in _nested(runbook.steps):
        records = matched.get(step.name, [])
        if step.loop is not None:
            call = f"{step.action} over {walked_text(runbook, step)}"
            counts = verdict.iterations.get(step.name, [])
            reproduces = f"{' + '.join(map(str, counts))} iterations" if counts else "no iteration"
        else:
            call = f"{step.service} {step.api}" if step.action == EXECUTE_AWS_API else step.action
            if step.batch:
                call += f" (batch of {step.batch})"
            shown = [record_text(record) for record in records[:TABLE_RECORDS]]
            if len(records) > TABLE_RECORDS:
                shown.append(f"… {len(records) - TABLE_RECORDS} more")
            reproduces = "\n".join(shown) or "no record"
        table.add_row(Text("  " * depth + step.name), Text(call), Text(reproduces))
    return table


def _nested(steps: list[Step], depth: int = 0):
    """(step, how many loops it is in) for every step, in runbook order."""
    for step in steps:
        yield step, depth
        if step.loop is not None:
            yield from _nested(step.loop.steps, depth + 1)
