"""Terminal views of ingested events: the events table, the summary and the principals table.

Values from logs are untrusted: they reach rich only as ``Text`` objects, never as markup.
"""

from __future__ import annotations

import json
from collections import Counter

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pysynth.demos import Demonstration
from pysynth.facts import value_text
from pysynth.ingest.events import Event
from pysynth.ingest.select import Ingested
from pysynth.model import SSM_MAX_ITERATIONS, Runbook, Step, walk
from pysynth.paths import parse_path
from pysynth.render.prose import list_text, plural, test_text, walked_text
from pysynth.synth import Synthesis
from pysynth.tasks import Session, Task
from pysynth.verify import verify

TELLING_SUFFIXES = ("Name", "Id", "Ids", "Arn", "Bucket", "Key", "Type", "CidrBlock", "Names")
MAX_VALUE_WIDTH = 48
MAX_NOISE_SHOWN = 20  # noise calls the synth summary names one by one


def events_table(events: list[Event], title: str) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    for column in ("time", "principal", "service", "operation", "parameters", "status"):
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(
            Text(event.time or "?"),
            Text(_short_principal(event)),
            Text(event.service or event.event_source or "?"),
            Text(event.operation or event.event_name or "?"),
            Text(telling_parameters(event)),
            Text("kept", style="green") if event.kept else Text(event.reason or "dropped", style="yellow"),
        )
    return table


def telling_parameters(event: Event, limit: int = 3) -> str:
    """The few request members that identify what a call touched, as ``Name=value``."""
    if not event.call:
        return ""
    hidden = set(event.call.hidden)
    scalars = [(name, value) for name, value in event.call.params.items() if isinstance(value, (str, int, float))]
    scalars.sort(key=lambda item: (item[0] not in hidden, not item[0].endswith(TELLING_SUFFIXES)))
    shown = [f"{name}={'<hidden>' if name in hidden else _clip(str(value))}" for name, value in scalars[:limit]]
    lists = [name for name, value in event.call.params.items() if isinstance(value, (list, dict))]
    if len(shown) < limit and lists:
        shown.append("+" + ",".join(lists[: limit - len(shown) + 1]))
    return " ".join(shown)


def summary_table(ingested: Ingested) -> Table:
    table = Table(title="summary", show_header=True)
    table.add_column("records")
    table.add_column("count", justify="right")
    table.add_row("read", str(ingested.records))
    table.add_row(Text("kept", style="green"), str(len(ingested.kept)))
    for reason, count in sorted(ingested.drop_counts().items(), key=lambda item: -item[1]):
        table.add_row(Text(f"dropped: {reason}"), str(count))
    files = sum(problem.index is None for problem in ingested.problems)
    if files:
        table.add_row(Text("unreadable files or parts", style="red"), str(files))
    return table


def principals_table(writes: Counter) -> Table:
    table = Table(title="principals with write calls")
    table.add_column("principal")
    table.add_column("write calls", justify="right")
    for principal, count in writes.most_common():
        table.add_row(Text(principal), str(count))
    return table


def print_problems(console: Console, ingested: Ingested) -> None:
    for problem in ingested.problems:
        console.print(Text(f"warning: {problem}", style="red"))


def _short_principal(event: Event) -> str:
    principal = event.principal
    return principal.user_name or principal.session_name or principal.label


def _clip(value: str) -> str:
    value = value.replace("\n", "\\n")
    return value if len(value) <= MAX_VALUE_WIDTH else value[: MAX_VALUE_WIDTH - 1] + "…"


# --------------------------------------------------------------------------- tasks


def tasks_table(tasks: list[Task], command: str) -> Table:
    """One row per task: how often it was done, by whom, when, what it touched, how to synthesize it."""
    table = Table(title=f"{len(tasks)} tasks, in order of first occurrence", show_lines=True)
    for column in ("task", "done", "principal", "first occurrence", "writes", "services", "telling operations", "synthesize with"):
        table.add_column(column, overflow="fold")
    for task in tasks:
        first = task.sessions[0]
        principals = list(dict.fromkeys(session.principal for session in task.sessions))
        more = f" (+{len(principals) - 1} more)" if len(principals) > 1 else ""
        table.add_row(
            Text(task.id),
            Text(f"{len(task.sessions)}×"),
            Text(_short_principal(first.start) + more),
            Text(_span(first)),
            Text(str(len(first.writes))),
            Text(", ".join(first.services)),
            Text(", ".join(first.telling_operations())),
            Text(f"{command} --task {task.id}"),
        )
    return table


def task_json(task: Task, command: str) -> dict:
    """The ``tasks --json`` object of one task (see README, "pysynth tasks")."""
    return {
        "id": task.id,
        "occurrences": len(task.sessions),
        "shape": list(task.shape),
        "command": f"{command} --task {task.id}",
        "sessions": [_session_json(task, number, session) for number, session in enumerate(task.sessions, start=1)],
    }


def _session_json(task: Task, number: int, session: Session) -> dict:
    return {
        "id": f"{task.id}.{number}",
        "principal": session.principal,
        "access_key_id": session.access_key_id,
        "start": session.start.time,
        "end": session.end.time,
        "seconds": session.end.epoch - session.start.epoch,
        "writes": len(session.writes),
        "services": session.services,
        "telling_operations": session.telling_operations(),
        "operations": [event.operation for event in session.writes],
        "records": [{"file": event.file, "index": event.index} for event in (session.start, session.end)],
    }


def _span(session: Session) -> str:
    seconds = int(session.end.epoch - session.start.epoch)
    minutes, seconds = divmod(seconds, 60)
    return f"{session.start.time} ({minutes}m{seconds:02d}s)"


# --------------------------------------------------------------------------- synthesis


def synth_summary(synthesis: Synthesis, runbook: Runbook, noise: list[Event] = ()) -> Table:
    """The runbook in numbers, and the calls dropped as noise (``pysynth.noise``) that it leaves out."""
    solution = runbook.solution
    table = Table(title="runbook", show_header=False)
    table.add_column("what")
    table.add_column("value")
    steps = list(walk(runbook.steps))
    in_loops = sum(len(list(walk(step.loop.steps))) for step in runbook.steps if step.loop is not None)
    in_arms = len(steps) - len(runbook.steps) - in_loops
    within = [f"{in_loops} in loops"] * bool(in_loops) + [f"{in_arms} in branches"] * bool(in_arms)
    table.add_row("steps", f"{len(steps)}" + (f" ({', '.join(within)})" if within else ""))
    for step in steps:
        if step.loop is not None:
            table.add_row(Text(f"loop {step.name}"), _loop_summary(runbook, step))
        elif step.branch is not None:
            table.add_row(Text(f"branch {step.name}"), Text(_branch_summary(step)))
        elif step.batch is not None:
            table.add_row(Text(f"batch {step.name}"), Text(
                f"one call for the whole list in {step.batch}, where the log shows {plural(len(step.records), 'call')}"))
    answer = synthesis.outcome.answers[synthesis.runbooks.index(runbook)] if runbook in synthesis.runbooks else None
    if answer is not None and answer.merged:
        table.add_row("retries merged", str(len(answer.merged)))
    waits = [step.name for step in steps if step.wait]
    if waits:
        table.add_row("waits", Text(f"{len(waits)}: {', '.join(waits)}"))
    retried = [step.name for step in steps if step.retry]
    if retried:
        table.add_row("retried", Text(", ".join(retried)))
    inputs = runbook.inputs
    secrets = sum(item.secret for item in inputs)
    table.add_row("inputs", f"{len(inputs)}" + (f" ({secrets} secret)" if secrets else ""))
    table.add_row("objectives", Text(", ".join(f"{name}={value}" for name, value in solution.objectives.items())))
    table.add_row("optimal", "proven" if solution.optimal else Text("not proven (time limit)", style="yellow"))
    stats = synthesis.outcome.stats
    table.add_row("grounding", f"{stats.get('atoms', 0)} atoms, {stats.get('rules', 0)} rules")
    table.add_row("solve time", f"{solution.seconds:.3f} s")
    if noise:
        table.add_row("noise", f"{plural(len(noise), 'call')} dropped; --keep-noise keeps them")
        for event in noise[:MAX_NOISE_SHOWN]:
            table.add_row("", Text(f"{event.file} record {event.index} {event.operation}: {event.reason}"))
        if len(noise) > MAX_NOISE_SHOWN:
            table.add_row("", f"and {len(noise) - MAX_NOISE_SHOWN} more: pysynth events --dropped lists them all")
    return table


def _branch_summary(step: Step) -> str:
    """``when input Owner is set: PutBucketTagging; otherwise nothing``."""
    branch = step.branch

    def names(steps: list[Step]) -> str:
        return ", ".join(inner.name for inner in steps) or "nothing"

    return f"when {test_text(branch.test)}: {names(branch.steps)}; otherwise {names(branch.otherwise)}"


def _loop_summary(runbook: Runbook, step: Step) -> Text:
    """What a loop walks and how many iterations the log shows, with SSM's limit where it is passed."""
    body = ", ".join(inner.name for inner in step.loop.steps)
    text = Text(f"{body} for each element of {walked_text(runbook, step)}: "
                f"{plural(step.loop.iterations, 'iteration')} in the log")
    if step.loop.iterations > SSM_MAX_ITERATIONS:
        text.append(f"; SSM's aws:loop runs at most {SSM_MAX_ITERATIONS} iterations and fails on a longer list: "
                    "use the bash or Python rendering, or split the list", style="yellow")
    return text


def explain_violations(synthesis: Synthesis) -> list[str]:
    """One line per broken rule or policy, naming the log record behind it."""
    session = synthesis.session
    lines = []
    for violation in synthesis.outcome.violations:
        if violation.kind == "slot":
            slot = session.slots[violation.id - 1]
            event = session.call_event(slot.call)
            shown = "<hidden>" if slot.hidden else _clip(value_text(slot.value))
            what = f"{event.call.operation} sets {slot.path} = {shown}"
        elif violation.kind == "loop":
            loop = session.loops[violation.id - 1]
            event = session.call_event(loop.body[0])
            what = f"a loop of {event.call.operation} over {len(loop.iterations)} iterations"
        else:
            event = session.call_event(violation.id)
            what = f"{event.call.operation}"
        lines.append(
            f"{violation.rule.replace('_', '-')}: {what} "
            f"({event.file} record {event.index}, eventID {event.event_id}, {event.time})"
        )
    return lines


def comparison_table(synthesis: Synthesis, runbooks: list[Runbook]) -> Table:
    """Runbooks side by side: their cost vectors, then every choice on which they differ."""
    session = synthesis.session
    answers = synthesis.outcome.answers[: len(runbooks)]
    table = Table(title=f"{plural(len(runbooks), 'runbook')}, best first", show_lines=False)
    table.add_column("choice")
    for number, runbook in enumerate(runbooks, start=1):
        optimal = " (optimal)" if answers[number - 1].cost == answers[0].cost and synthesis.outcome.optimal else ""
        table.add_column(f"#{number}{optimal}")
    for position, objective in enumerate(synthesis.outcome.objectives):
        table.add_row(Text(f"cost: {objective}", style="bold"), *(str(answer.cost[position]) for answer in answers))
    step_names = [_step_names(session, runbook) for runbook in runbooks]
    orders = [_order(runbook.steps) for runbook in runbooks]
    if len(set(orders)) > 1:
        table.add_row(Text("order"), *(Text(order) for order in orders))
    # Whether the repeated calls are a loop, and over what, is a choice between runbooks too.
    repeats = [_repeats(runbook) for runbook in runbooks]
    if len(set(repeats)) > 1:
        table.add_row(Text("loops and batches"), *(Text(text) for text in repeats))
    for call in range(1, len(session.calls) + 1):
        placements = [_placement(call, answer, names) for answer, names in zip(answers, step_names)]
        if len(set(placements)) > 1:
            table.add_row(Text(f"call {call} {session.call_event(call).call.operation}"), *placements)
    input_names = [{item.name: item for item in runbook.inputs} for runbook in runbooks]
    for slot in session.slots:
        choices = [_binding_text(answer.bindings.get(slot.id), slot, session, names, inputs)
                   for answer, names, inputs in zip(answers, step_names, input_names)]
        if len(set(choices)) > 1:
            # The step's name (CreateSecret3), so that twenty calls of one operation stay apart: from a
            # runbook where the call is a step of its own, not one of a loop's later iterations.
            step = next((names[slot.call] for names, answer in zip(step_names, answers)
                         if slot.call in names and slot.call in answer.steps),
                        session.call_event(slot.call).call.operation)
            table.add_row(Text(f"{step}.{slot.path}"), *(Text(choice) for choice in choices))
    return table


def _step_names(session, runbook: Runbook) -> dict[int, str]:
    """The step that makes each call, by call number. A step names the records it makes (a batch
    step every call it stands for), but a step in a loop only its first iteration's: which calls the
    other iterations make is what verify finds, replaying the loop against the session."""
    call_of = {(event.file, event.index): number for number, event in enumerate(session.calls, start=1)}
    if not any(step.loop is not None for step in walk(runbook.steps)):
        made = [(step.name, step.records) for step in walk(runbook.steps)]
    else:
        demonstration = Demonstration("the session", [event for event in session.calls if not event.read_only],
                                      [event for event in session.calls if event.read_only])
        verdict = verify(runbook, [demonstration], require_waits=False, require_retries=False)
        made = verdict.matches
    loop_of = {inner.name: step.name for step in walk(runbook.steps) if step.loop is not None for inner in step.loop.steps}
    return {call_of[(record.file, record.index)]: name + (f" (in loop {loop_of[name]})" if name in loop_of else "")
            for name, records in made for record in records if (record.file, record.index) in call_of}


def _order(steps: list[Step]) -> str:
    """``ListBuckets → EachBucket (EncryptBucket → TagBucket)``: a loop's body in brackets; a branch's
    ways in square brackets (``IfOwnerGiven [PutBucketTagging | -]``)."""
    return " → ".join(f"{step.name} ({_order(step.loop.steps)})" if step.loop is not None
                      else f"{step.name} [{_order(step.branch.steps) or '-'} | {_order(step.branch.otherwise) or '-'}]"
                      if step.branch is not None else step.name
                      for step in steps)


def _repeats(runbook: Runbook) -> str:
    """A runbook's loops (what each walks) and batch steps, or that it has none."""
    found = [f"{step.name} over {walked_text(runbook, step)}" if step.loop is not None
             else f"{step.name}: one call for {step.batch} = {list_text(runbook, _batch_list(step))}"
             for step in walk(runbook.steps) if step.loop is not None or step.batch is not None]
    return "; ".join(found) or "none: each call its own step"


def _batch_list(step):
    """The list a batch step's member takes: a reference, or the logged texts."""
    value = step.request
    for key in parse_path(step.batch):
        value = value[key]
    return value


def _placement(call: int, answer, step_names: dict[int, str]) -> str:
    """What a runbook makes of a call: a step (waiting, or retried), merged into another, or left out."""
    # A call a loop's iteration makes that the replay could not place has no step name; a later
    # demonstration's call is the step it matches.
    name = step_names.get(call) or step_names.get(answer.matches.get(call), "a step no record names")
    if call in answer.waits:
        return f"{name} (waits with {answer.waits[call]})"
    if call in answer.steps:
        return name + (" (retried)" if call in answer.retries else "")
    if call in answer.merged:
        return f"merged into {step_names.get(answer.merged[call], answer.merged[call])}"
    # A loop's later iterations make calls that are no step of their own.
    return step_names.get(call, "left out")


def _binding_text(binding, slot, session, step_names, inputs) -> str:
    if binding is None:
        return "—"
    if binding.kind == "output":
        output = session.outputs[binding.output - 1]
        return f"output {step_names.get(output.call, output.call)}: {output.path}"
    if binding.kind == "literal":
        return f"literal {_clip(value_text(slot.value))}"
    if binding.kind == "runtime":
        return f"runtime {binding.runtime}"
    if binding.kind == "item":
        way = session.derivations[binding.derivation - 1]
        walked = "loop element" if way.kind == "element" else "loop iteration number"
        return " + ".join([json.dumps(way.prefix)] * bool(way.prefix) + [walked] + [json.dumps(way.suffix)] * bool(way.suffix))
    return binding.kind
