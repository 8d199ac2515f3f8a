"""Certify that a runbook reproduces its demonstrations, from the runbook and the logs alone.

No solver state is used, so hand edits are caught as surely as synthesis mistakes. The runbook is
replayed symbolically against each demonstration (``pysynth.demos.Demonstration``: a log's kept
calls, reads and failed calls) on its own. Against one, inputs take their defaults; against
several, each demonstration gave its own values: an input's value is the one the call of its first
use shows (unified with the step's request), else its default, and an input it never uses is unset.
A step output takes the value at its path in the response of the record its step reproduces;
``global:`` values are the session's account id, region and partition. Each ``aws:executeAwsApi``
step is then matched to a kept call of the log with the same service, operation and request (the
call's parameters without the idempotency tokens botocore makes afresh; a value the log hides is
matched by a secret input and nothing else). A step that expects errors
(``Step.expected_errors``) may instead match a failed call with one of them.

Every problem is reported once, with one line that says what to fix (``Problem.kind`` below);
against several demonstrations, a problem one of them shows names it.
A call that repeats its step's call exactly, with no call in between using any of its values,
is a retry: the same step covers it (``pysynth.facts`` merges retries by the same rule).

A loop step is replayed iteration by iteration: its list is its input's default, or the list
output (filtered by its condition) in the logged response of the step that listed it; each
iteration binds the loop's element and number, and its body's steps must match the next logged
calls one for one and in order, their outputs read from the calls of the same iteration. A list
longer or shorter than the iterations the log shows is a problem, and so is a list the log cannot
give (CloudTrail logs no response for reads). A batch step's one call must send what its logged
calls sent together, in order. A branch step's test is decided by the demonstration's evidence
(the tested step's failed record, a recorded response, an input's value) and only the arm it
chooses is replayed; an arm's outputs are read only inside that arm.

The modules: ``problems`` (kinds, problems, verdicts), ``values`` (values during the replay),
``inputs`` (each input's value in a demonstration), ``instances`` (a step in each iteration of its
loops), ``replay`` (instances matched to calls), ``leftovers`` (retries, and steps of operations
the log never made), ``checks`` (the runbook's own problems and each matched step's), ``batches``,
``loops`` and ``branches`` (batch steps, loops' iteration counts, and the arm each branch takes)
and ``plan`` (the order, waits and retries against the log's evidence).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from pysynth import collector
from pysynth.demos import Demonstration
from pysynth.model import EXECUTE_AWS_API, Runbook, Step, walk
from pysynth.render.prose import plural, walked_text
from pysynth.verify.branches import test_text
from pysynth.verify.loops import collapsed
from pysynth.verify.plan import plan_problems
from pysynth.verify.problems import RECORDS_DIFFER, Problem, Verdict
from pysynth.verify.replay import Replay
from pysynth.verify.values import record_text, records_text

# A step in a loop makes a call per iteration: the table names this many of them.
TABLE_RECORDS = 5

__all__ = ["Problem", "Verdict", "check_synthesized", "matches_table", "verify"]


def verify(runbook: Runbook, demonstrations: list[Demonstration], *, require_waits: bool = True,
           require_retries: bool = True) -> Verdict:
    """Check ``runbook`` against each demonstration: its kept calls in log order, its successful
    reads (what read and wait steps may make, and the evidence of polling) and its failed calls
    (the evidence of retries, and the calls a step that expects their error makes).
    ``require_waits``/``require_retries``: a missing wait or retry where the log shows polling or
    failures is a problem. Against several demonstrations each problem names its demonstration,
    and each step's records are those it makes in all of them, in turn."""
    return _merged(demonstrations, *_verdicts(runbook, demonstrations, require_waits, require_retries))


def check_synthesized(runbook: Runbook, demonstrations: list[Demonstration], *, require_waits: bool = True,
                      require_retries: bool = True) -> Verdict:
    """``verify``, and also that every step reproduces exactly the records it claims to (the
    records its description names: a step in a loop's body, those of its first iteration; a loop
    step, those its body makes in all its iterations) and that each loop runs as many iterations as
    it claims the log shows (the first time it runs, inside an enclosing loop). A step's records
    are calls of one demonstration (the one that holds them): it is held to what it makes there; a
    step that claims none must make none in any."""
    verdicts, own = _verdicts(runbook, demonstrations, require_waits, require_retries)
    verdict = _merged(demonstrations, verdicts, own)
    holder = {(event.file, event.index): number for number, demonstration in enumerate(demonstrations)
              for event in (*demonstration.kept, *demonstration.reads, *demonstration.failed)}
    loop_body = {inner.name for step in walk(runbook.steps) if step.loop is not None for inner in walk(step.loop.steps)}
    # Each demonstration's matches by step name, made once: per step, it cost a pass over them all.
    matched = {id(each): dict(each.matches) for each in verdicts}
    for step in walk(runbook.steps):
        claimed = [(record.file, record.index) for record in step.records]
        shown = holder.get(claimed[0]) if claimed else None
        # The demonstration the claims are about: one, or every one for a step that claims nothing.
        about = verdicts if shown is None else [verdicts[shown]]
        if step.loop is not None:
            walked = about[0].iterations.get(step.name)
            if walked and walked[0] != step.loop.iterations:
                verdict.problems.append(Problem(
                    RECORDS_DIFFER,
                    f"loop {step.name} claims the log shows {plural(step.loop.iterations, 'iteration')}, "
                    f"but it walks {plural(walked[0], 'element')}",
                    step=step.name,
                ))
        if step.loop is not None or step.name in loop_body:
            found = [record for each in about for record in each.first_iterations.get(step.name, [])]
        else:
            found = [record for each in about for record in matched[id(each)].get(step.name, [])]
        if claimed != [(record.file, record.index) for record in found]:
            verdict.problems.append(Problem(
                RECORDS_DIFFER,
                f"step {step.name} claims to reproduce {records_text(step.records)}, "
                f"but reproduces {records_text(found)}",
                step=step.name,
            ))
    return verdict


def _verdicts(runbook: Runbook, demonstrations: list[Demonstration], require_waits: bool,
              require_retries: bool) -> tuple[list[Verdict], list[Problem]]:
    """Each demonstration's verdict on its own (against several, inputs take the values each
    shows), and the runbook's own problems, apart: every demonstration finds them."""
    verdicts = []
    with collector.paused():
        for demonstration in demonstrations:
            replay = Replay(runbook, demonstration, inferred=len(demonstrations) > 1)
            verdict = replay.run()
            own = verdict.problems[:replay.runbook_problems]
            del verdict.problems[:replay.runbook_problems]
            # The plan is judged on the calls that succeeded: a failed call polled nothing and changed
            # nothing; and one a step made as the outcome it expects is no failure to retry.
            logged = [number for number in range(len(replay.calls)) if number not in replay.failures]
            outcomes = {id(replay.calls[number]) for number in replay.failures if number in replay.taken}
            renumbered = {number: place for place, number in enumerate(logged)}
            placed = [(instance, [renumbered[number] for number in (replay.matched[instance.key],
                                                                     *replay.batched.get(instance.key, ()))
                                  if number in renumbered])
                      for instance in replay.instances if instance.key in replay.matched]
            verdict.problems += collapsed(plan_problems(
                placed, [replay.calls[number] for number in logged],
                [event for event in demonstration.failed if id(event) not in outcomes],
                require_waits=require_waits, require_retries=require_retries,
            ))
            verdicts.append(verdict)
    return verdicts, own


def _merged(demonstrations: list[Demonstration], verdicts: list[Verdict], own: list[Problem]) -> Verdict:
    """One verdict of several: the runbook's own problems, then each demonstration's, naming it;
    each step's records and each loop's iterations in all of them, in turn (a first iteration is
    the first demonstration's that ran one)."""
    if len(verdicts) == 1:
        verdicts[0].problems[:0] = own
        return verdicts[0]
    records: dict[str, list] = {}
    problems, first, iterations, arms = list(own), {}, {}, {}
    for demonstration, verdict in zip(demonstrations, verdicts):
        for name, made in verdict.matches:
            records.setdefault(name, []).extend(made)
        for problem in verdict.problems:
            problem.shown_in(demonstration.name)
            problems.append(problem)
        for name, made in verdict.first_iterations.items():
            first.setdefault(name, made)
        for name, counts in verdict.iterations.items():
            iterations.setdefault(name, []).extend(counts)
        for name, taken in verdict.arms.items():
            arms.setdefault(name, []).extend(taken)
    return Verdict(list(records.items()), problems, first, iterations, arms)


def matches_table(runbook: Runbook, verdict: Verdict) -> Table:
    """Each step, a loop's body and a branch's arms indented under it, with the calls it makes: a
    loop step with how many iterations it ran, a step in a loop with its calls in every iteration,
    a branch step with whether its test held in each demonstration."""
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
        elif step.branch is not None:
            call = f"{step.action} if {test_text(step)}"
            reproduces = "\n".join(f"{'held' if arm == 'steps' else 'did not hold'} in {name}"
                                   for name, arm in dict.fromkeys(verdict.arms.get(step.name, []))) or "not decided"
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
    """(step, how many loops and branches it is in) for every step, in runbook order."""
    for step in steps:
        yield step, depth
        if step.loop is not None:
            yield from _nested(step.loop.steps, depth + 1)
        if step.branch is not None:
            yield from _nested([*step.branch.steps, *step.branch.otherwise], depth + 1)
