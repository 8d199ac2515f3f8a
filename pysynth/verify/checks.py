"""The problems of a runbook on its own (inputs, actions, what each reference may name) and of each
step the replay matched to a call (values that differ, created ids written as literals, outputs
used before the log made them)."""

from __future__ import annotations

from pysynth.botomodels import operation_model
from pysynth.facts import TOKEN
from pysynth.model import GLOBALS, GlobalRef, IndexRef, InputRef, ItemRef, OutputRef, Step, Template, walk
from pysynth.paths import parse_path
from pysynth.render.shapes import shape_at
from pysynth.verify import batches, branches
from pysynth.verify.instances import Instance
from pysynth.verify.plan import moment_of
from pysynth.verify.problems import (
    API_ACTIONS, BAD_TEST, LITERAL_CREATED_ID, OMITTED_VALUE, OUTPUT_BEFORE_PRODUCER, OUTSIDE_ARM, OUTSIDE_LOOP,
    READ_ONLY_ACTIONS, SECRET_LITERAL, UNKNOWN_INPUT, UNKNOWN_OUTPUT, UNSUPPORTED_ACTION, VALUE_DIFFERS, Problem,
)
from pysynth.verify.values import (
    ABSENT, Finding, Unknown, at_path, literal_texts, record_ref, record_text, reference_text, show,
    show_pair, unlogged_reason,
)

# --------------------------------------------------------------------------- the runbook on its own


def check_runbook(replay) -> None:
    for item in replay.runbook.inputs:
        if item.secret and item.default is not None:
            replay.problems.append(Problem(
                SECRET_LITERAL,
                f"input {item.name} is secret but has a default: a secret is given when the runbook "
                f"starts and never written into it",
            ))
    for step in walk(replay.runbook.steps):
        # A loop is replayed by its body and a branch by the arm its test chooses; an aws:loop or
        # aws:branch kept only by name (no body or test read) cannot be.
        structured = step.loop is not None or step.branch is not None
        if not (step.action in API_ACTIONS or step.action in READ_ONLY_ACTIONS or structured):
            replay.problems.append(Problem(
                UNSUPPORTED_ACTION,
                f"step {step.name}: action {step.action} cannot be checked against a log",
                step=step.name,
            ))
        if step.branch is not None and (problem := branches.test_problem(replay, step)):
            replay.bad_tests.add(step.name)
            replay.problems.append(Problem(BAD_TEST, problem, step=step.name))
        if step.action in API_ACTIONS or structured:
            named = replay.references(step)
        else:
            continue
        for path, reference in named:
            problem = _reference_problem(replay, step, path, reference)
            if problem and (step.name, reference) not in replay.bad_references:
                replay.bad_references.add((step.name, reference))
                replay.problems.append(Problem(problem[0], problem[1], step=step.name, path=path))


def _reference_problem(replay, step: Step, path: str, reference) -> tuple[str, str] | None:
    """(kind, message) when ``reference`` names nothing ``step`` may use."""
    where = f"step {step.name} {path}"
    scopes = replay.scopes
    if isinstance(reference, InputRef) and reference.name not in replay.inputs:
        return UNKNOWN_INPUT, f"{where}: {reference_text(reference)} names no input of the runbook"
    if isinstance(reference, GlobalRef) and reference.name not in GLOBALS:
        return UNKNOWN_INPUT, f"{where}: {reference_text(reference)} is no runtime value ({', '.join(GLOBALS)})"
    if isinstance(reference, (ItemRef, IndexRef)) and reference.loop not in scopes.loops[step.name]:
        return OUTSIDE_LOOP, f"{where} uses {reference_text(reference)}, but the step is not in loop {reference.loop}"
    if isinstance(reference, OutputRef):
        producer = scopes.position.get(reference.step)
        if producer is None or producer >= scopes.position[step.name]:
            when = "there is no such step" if producer is None else f"step {reference.step} runs later"
            return OUTPUT_BEFORE_PRODUCER, f"{where} uses {reference_text(reference)}, but {when}"
        if not scopes.in_loops(reference.step, step.name):
            loop = scopes.loops[reference.step][-1]
            return OUTSIDE_LOOP, (f"{where} uses {reference_text(reference)}, but step {reference.step} runs in loop "
                                  f"{loop}: its outputs exist only within an iteration")
        if not scopes.in_arms(reference.step, step.name):
            branch, arm = scopes.arms[reference.step][-1]
            which = "when its test holds" if arm == "steps" else "when its test does not hold"
            return OUTSIDE_ARM, (f"{where} uses {reference_text(reference)}, but step {reference.step} runs only in "
                                 f"branch {branch} {which}: its outputs exist only within that arm")
        if reference.output not in {output.name for output in scopes.steps[reference.step].outputs}:
            return UNKNOWN_OUTPUT, (f"{where} uses {reference_text(reference)}, but step {reference.step} declares "
                                    f"no output {reference.output}")
    return None


# --------------------------------------------------------------------------- a matched step


def check_step(replay, instance: Instance) -> None:
    number = replay.matched[instance.key]
    event = replay.calls[number]
    for finding in replay.findings(instance, number):
        replay.problems.append(_finding_problem(replay, instance, number, finding))
    if instance.step.batch is not None:
        batches.check(replay, instance)
    for path, reference in replay.references(instance.step):
        producer_number = (replay.matched.get(replay.scopes.producer_key(instance, reference.step))
                           if isinstance(reference, OutputRef) else None)
        if producer_number is not None and moment_of(replay.calls[producer_number]) > moment_of(event):
            producer = replay.calls[producer_number]
            replay.problems.append(Problem(
                OUTPUT_BEFORE_PRODUCER,
                f"{instance.text} {path} uses {reference_text(reference)}, but the log made "
                f"{record_text(event)} before {record_text(producer)}",
                step=instance.step.name, record=record_ref(event), path=path, iterations=instance.iterations,
            ))
    _check_literals(replay, instance, number)


def _finding_problem(replay, instance: Instance, number: int, finding: Finding) -> Problem:
    event = replay.calls[number]
    step = instance.step
    where = f"{instance.text} {finding.path or '(request)'}"
    located = dict(step=step.name, record=record_ref(event), path=finding.path, iterations=instance.iterations)
    if finding.kind == OMITTED_VALUE:
        return Problem(
            OMITTED_VALUE,
            f"{where}: {record_text(event)} sent a value here that the log does not show "
            f"({unlogged_reason(event, finding.path)}); the runbook leaves it out, so it would not do "
            f"what the log did: give it through a secret input (a file input for binary data)",
            **located,
        )
    if finding.kind == SECRET_LITERAL:
        # The message never shows the value: it may be the secret itself.
        if finding.source is not None:
            given = f"a value of {reference_text(finding.source)}"
        elif isinstance(finding.found, InputRef):
            given = f"input {finding.found.name}, which has a default"
        elif isinstance(finding.found, (OutputRef, GlobalRef, ItemRef, IndexRef)):
            given = reference_text(finding.found)
        else:
            given = "a template" if isinstance(finding.found, Template) else "a literal"
        return Problem(
            SECRET_LITERAL,
            f"{where}: {record_text(event)} hides this value, so only a secret input may give it, not {given}",
            **located,
        )
    if isinstance(finding.found, Unknown):
        found = f"{reference_text(finding.source)}, which has no value ({finding.found.why})"
        expected = show(finding.expected)
    else:
        expected, found = show_pair(finding.expected, finding.found)
        if finding.source is not None:
            found = f"{found} (from {_source_text(replay, instance, finding.source)})"
    if finding.expected is not ABSENT and finding.path in replay.hidden[number]:
        expected = "a hidden value"
    return Problem(
        VALUE_DIFFERS,
        f"{where}: {record_text(event)} has {expected}, the runbook gives {found}",
        expected=finding.expected, found=finding.source if isinstance(finding.found, Unknown) else finding.found,
        **located,
    )


def _source_text(replay, instance: Instance, source) -> str:
    """The reference a value came from; a loop's element also by the value of its list it is, where
    that is a reference (a gathered list: ``element 2 of its list, {{ CreateQueue2.QueueUrl }}``)."""
    text = reference_text(source)
    if isinstance(source, ItemRef):
        over = replay.scopes.steps[source.loop].loop.over
        number = next(frame.number for frame in instance.frames if frame.loop == source.loop)
        if isinstance(over, list) and not isinstance(over[number - 1], str):
            text += f", element {number} of its list, {reference_text(over[number - 1])}"
    return text


def _check_literals(replay, instance: Instance, number: int) -> None:
    """Literals that are ids an earlier call created, whole or inside a longer text; a step in a loop
    writes the same literal in every iteration, and it is reported once."""
    step = instance.step
    hidden = replay.hidden[number]
    request_shape = operation_model(step.service, step.api).input_shape
    for path, text in literal_texts(step.request):
        if path in hidden or (step.name, path) in replay.literals_reported:
            continue
        candidates = [text] + [token.group() for token in TOKEN.finditer(text)]
        value = next((item for item in candidates if replay.created.get(item, number) < number), None)
        if value is None:
            continue
        shape = shape_at(request_shape, parse_path(path) or [])
        if shape is not None and text in (shape.enum or ()):
            continue  # an enum value a response showed first (an architecture) was not created
        replay.literals_reported.add((step.name, path))
        producer = replay.created[value]
        replay.problems.append(Problem(
            LITERAL_CREATED_ID,
            f"{instance.text} {path or '(request)'}: {show(value)} is written as a literal, but "
            f"{record_text(replay.calls[producer])} ({replay.calls[producer].call.operation}) created it; "
            f"{_suggestion(replay, producer, value)}",
            step=step.name, record=record_ref(replay.calls[producer]), path=path, found=value,
            iterations=instance.iterations,
        ))


def _suggestion(replay, producer: int, value: str) -> str:
    key = replay.key_of_call.get(producer)
    if key is None:
        return "no step makes that call"
    step = replay.scopes.steps[key[0]]
    for output in step.outputs:
        if at_path(replay.calls[producer].call.response, output.path) == value:
            return f"use {reference_text(OutputRef(step.name, output.name))}"
    return f"declare an output of step {step.name} that selects it and use that"
