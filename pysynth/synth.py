"""Synthesis: kept calls -> analysed session -> facts -> solver -> runbook models.

The solver's answer says, for every slot, where its value comes from; this module turns that
into steps whose requests hold literals and references (see ``pysynth.model``).
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pysynth import collector, unlogged
from pysynth.botomodels import operation_model
from pysynth.facts import RESOURCE_ID, Session, Slot, analyse
from pysynth.ingest.events import Event
from pysynth.evidence import wait_of
from pysynth.model import (
    EXECUTE_AWS_API, LOOP, WAIT_FOR_PROPERTY, GlobalRef, IndexRef, Input, InputRef, ItemRef, Loop, Output, OutputRef,
    RecordRef, Retry, Runbook, Solution, Step, Template,
)
from pysynth.paths import list_selector
from pysynth.render.prose import plural
from pysynth.resources import asp_root
from pysynth.solve import Answer, Outcome, solve

RUNTIME_GLOBALS = {"account_id": "ACCOUNT_ID", "region": "REGION", "partition": "AWS_PARTITION"}
SSM_OUTPUT_TYPES = {"string": "String", "integer": "Integer", "long": "Integer", "boolean": "Boolean",
                    "map": "StringMap", "structure": "StringMap"}
# Created ids and ARNs a step reports even when no later step reads them (the first of a list
# only): what a user looks for after a run.
REPORTED_OUTPUT = re.compile(r"(Id|Arn)$")
# Attempts of a step the log shows failing before it succeeded: at least this many, and always one
# more than the log needed.
RETRY_ATTEMPTS = 3
# An error code as AWS spells it (CloudTrail prefixes EC2's with Client. or Server.); anything else
# in a log's errorCode is not retried on.
ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9.]*\Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class NothingToSynthesize(Exception):
    """The selection kept no write call."""


@dataclass
class Synthesis:
    session: Session
    outcome: Outcome
    runbooks: list[Runbook] = field(default_factory=list)


def synthesize(
    calls: list[Event],
    *,
    reads: list[Event] = (),
    failed: list[Event] = (),
    policies: list[Path] = (),
    objectives: Path | None = None,
    models: int = 1,
    time_limit: float | None = None,
    target: str | None = None,
) -> Synthesis:
    """``target``: the format the runbook is for; what it cannot run (``asp/targets/<target>.lp``,
    SSM: nested loops) is ruled out like a policy."""
    if not calls:
        raise NothingToSynthesize("no write call was kept, so there is nothing to automate")
    limits = asp_root() / "targets" / f"{target}.lp"
    if target is not None and limits.is_file():
        policies = [*policies, Path(str(limits))]
    with collector.paused():
        session = analyse(calls, reads, failed)
        outcome = solve(session.facts(), policies=policies, objectives=objectives, models=models, time_limit=time_limit)
        synthesis = Synthesis(session, outcome)
        if outcome.satisfiable:
            synthesis.runbooks = [build_runbook(session, answer, outcome) for answer in outcome.answers]
    return synthesis


def build_runbook(session: Session, answer: Answer, outcome: Outcome) -> Runbook:
    builder = _RunbookBuilder(session, answer)
    return Runbook(
        description=_description(session),
        inputs=builder.inputs(),
        steps=builder.steps(),
        solution=Solution(
            objectives=dict(zip(outcome.objectives, answer.cost)),
            optimal=outcome.optimal,
            models=int(outcome.stats.get("models", 0)),
            seconds=round(float(outcome.stats.get("ground_seconds", 0)) + float(outcome.stats.get("solve_seconds", 0)), 3),
        ),
    )


class _RunbookBuilder:
    def __init__(self, session: Session, answer: Answer):
        self.session = session
        self.answer = answer
        # The planned order: moments as logged, the steps of a moment by the ranks the solver chose.
        self.steps_taken = sorted(answer.steps, key=lambda call: (session.moments[call - 1], answer.ranks.get(call, 0), call))
        self.step_names = _step_names(session, self.steps_taken, answer.waits)
        self.slots_by_call: dict[int, list[Slot]] = defaultdict(list)
        for slot in session.slots:
            self.slots_by_call[slot.call].append(slot)
        self.outputs_by_id = {output.id: output for output in session.outputs}
        self.outputs_by_call: dict[int, list] = defaultdict(list)
        for output in session.outputs:
            self.outputs_by_call[output.call].append(output)
        self.used_outputs: dict[int, set[int]] = defaultdict(set)
        for binding in answer.bindings.values():
            if binding.kind == "output":
                output = self.outputs_by_id[binding.output]
                self.used_outputs[output.call].add(output.id)
        self.output_names = self._name_outputs()
        self.loops = {loop.id: loop for loop in session.loops if loop.id in answer.loops}
        self.list_outputs = {source.id: source for loop in self.loops.values() for source in loop.sources
                             if answer.loops[loop.id] == source.id}
        self.loop_names = self._name_loops()
        # The first iteration's key slot of a loop over a gathered list: in the body, the element.
        self.gathered_keys = {loop.key_slot: loop_id for loop_id, loop in self.loops.items()
                              if answer.loops[loop_id] == "gathered"}
        self.element_of = {slot: (loop_id, number) for loop_id, loop in self.loops.items()
                           if answer.loops[loop_id] == "gathered"
                           for number, slot in enumerate(loop.element_slots, start=1)}
        self.skeletons = {place: (loop_id, way) for loop_id, loop in self.loops.items() if loop_id in self.loop_names
                          for place, way in loop.skeletons.items()}
        self.list_output_names = self._name_list_outputs()
        self.input_names: dict[int, str] = {}
        self._inputs: dict[str, Input] = {}
        self.input_taken = _Names(reserved=("AutomationAssumeRole",))
        self._name_inputs()
        self.list_inputs = self._name_list_inputs()

    # -- inputs -----------------------------------------------------------------------------

    def _name_inputs(self) -> None:
        taken = self.input_taken
        first_member = {}
        for slot in self.session.slots:
            if slot.span is None:
                # A value in an item's key is named by its key attribute ("id"), not its type ("S").
                first_member.setdefault(slot.value_id, slot.key_attribute or slot.member)
        for slot in self.session.slots:
            binding = self.answer.bindings.get(slot.id)
            if binding is None or binding.kind not in ("input", "secret"):
                continue
            step_path = self._slot_place(slot)
            if slot.value_id in self.input_names:
                self._inputs[self.input_names[slot.value_id]].used_by.append(step_path)
                continue
            if binding.kind == "secret":
                named_by = _identifier(slot.path)
            else:
                named_by = first_member.get(slot.value_id) or (slot.span and self._resource_name(slot))
            name = taken.unique(_identifier(named_by or slot.member) or "Value")
            self.input_names[slot.value_id] = name
            if binding.kind == "secret":
                self._inputs[name] = _hidden_input(name, slot, step_path, self.session.call_event(slot.call).call)
            else:
                described = _first_sentence(slot.shape.documentation) or slot.member
                if slot.key_attribute:
                    described = f"Key attribute {slot.key_attribute} of the item. {described}"
                self._inputs[name] = Input(
                    name=name, type=_input_type(slot), default=_json_value(slot.value), used_by=[step_path],
                    description=described,
                )

    def _slot_place(self, slot: Slot) -> str:
        """Where a slot's value is used: ``Step.Path``, or for a later iteration's element of a
        gathered list, ``Loop element N``."""
        if slot.call in self.step_names:
            return f"{self.step_names[slot.call]}.{slot.path}"
        loop_id, number = self.element_of[slot.id]
        return f"{self.loop_names.get(loop_id) or self.step_names[self.loops[loop_id].body[0]]} element {number}"

    def _resource_name(self, slot: Slot) -> str | None:
        """What a resource's name or id inside an ARN or URL is called: after its resource type
        (``StateMachineName`` in ``...:stateMachine:Nightly``, ``KeyId`` in ``...:key/1234abcd-...``),
        else after the member (``TopicName`` in a ``TopicArn``, ``QueueName`` in a ``QueueUrl``)."""
        text = _get_at(self.session.call_event(slot.call).call.params, slot.keys)
        before = text[:slot.span[0]]
        segment = before.rstrip(":").rsplit(":", 1)[-1].split("/", 1)[0]
        kind = "Id" if UUID.fullmatch(str(slot.value)) else "Name"
        if re.fullmatch(r"[A-Za-z][A-Za-z-]*", segment) and segment != "arn":
            return segment[:1].upper() + segment[1:] + kind
        stem = re.sub(r"(Arns?|Urls?|Uri)$", "", slot.member)
        return stem + "Name" if stem != slot.member else None

    def inputs(self) -> list[Input]:
        return list(self._inputs.values())

    # -- loops ------------------------------------------------------------------------------

    def _key_member(self, loop) -> str:
        """The key's member in the singular: ``Bucket``, ``InstanceId`` (of ``InstanceIds``); the key
        attribute of an item's key (``id``)."""
        key = self.session.slots[loop.key_slot - 1]
        member = key.key_attribute or key.member or "Item"
        return member[:-1] if member.endswith(("Ids", "Names", "Arns", "Keys")) else member

    def _name_loops(self) -> dict[int, str]:
        """Loop id -> its step's name (``EachBucket``), for every used loop that is a loop step."""
        taken = _Names(reserved=tuple(self.step_names.values()))
        return {loop_id: taken.unique("Each" + _identifier(self._key_member(loop)))
                for loop_id, loop in self.loops.items() if loop_id not in self.answer.batched}

    def _name_list_outputs(self) -> dict[int, str]:
        """List output id -> its name on the step whose response holds the list."""
        names = {}
        for output_id, source in sorted(self.list_outputs.items()):
            taken = _Names(reserved=tuple(name for (step, name) in self.output_names.values()
                                          if step == self.step_names[source.call]))
            words = re.findall(r"[A-Za-z0-9]+", source.path.replace("[*]", ""))
            last, parent = words[-1], (words[-2] if len(words) > 1 else "")
            singular = parent[:-1] if parent.endswith("s") else parent
            name = _plural(last) if not singular or last.startswith(singular) else singular + _plural(last)
            if source.where is not None:
                named = source.where.test == "equals" and source.where.value[:1].isalpha()
                name = (_identifier(source.where.value) if named else
                        "Tagged" if source.where.test == "tag" else "Matching") + name
            names[output_id] = taken.unique(_identifier(name))
        return names

    def _name_list_inputs(self) -> dict[int, str]:
        """Loop id -> the StringList input it walks, for loops over an input list."""
        names = {}
        for loop_id, loop in self.loops.items():
            if self.answer.loops[loop_id] != "input":
                continue
            name = self.input_taken.unique(_plural(_identifier(self._key_member(loop))))
            names[loop_id] = name
            slot = self.session.slots[loop.key_slot - 1]
            user = self.loop_names.get(loop_id) or self.step_names[loop.body[0]]
            self._inputs[name] = Input(
                name=name, type="StringList", default=[_json_value(element) for element in loop.elements],
                used_by=[user],
                description=(f"One {slot.member} per iteration"
                             + (f": {_first_sentence(slot.shape.documentation)}" if slot.shape.documentation else ".")),
            )
        return names

    def _list_of(self, loop_id: int):
        """What a used loop walks: its input list, its literal list, the list output of the step
        that holds it, or the list gathered from each iteration's value (inputs, outputs)."""
        source = self.answer.loops[loop_id]
        if source == "input":
            return InputRef(self.list_inputs[loop_id])
        if source == "literal":
            return [_json_value(element) for element in self.loops[loop_id].elements]
        if source == "gathered":
            return [self._value_of(self.session.slots[slot - 1], as_element=True)
                    for slot in self.loops[loop_id].element_slots]
        return OutputRef(self.step_names[self.list_outputs[source].call], self.list_output_names[source])

    # -- outputs ----------------------------------------------------------------------------

    def _name_outputs(self) -> dict[int, tuple[str, str]]:
        """Output id -> (step name, output name) for every output a step declares."""
        names: dict[int, tuple[str, str]] = {}
        declared: dict[int, list[int]] = defaultdict(list)
        for output in self.session.outputs:
            if output.call not in self.step_names:
                continue
            value = self.session.values[output.value_id - 1]
            reported = (
                self.session.produced.get(output.value_id) == output.call
                and REPORTED_OUTPUT.search(output.path)
                and re.sub(r"\[0\]", "", output.path).count("[") == 0
                and isinstance(value, str)
                and (RESOURCE_ID.match(value) is not None or value.startswith("arn:")
                     or self._beside_created_secret(output.call, output.path))
            )
            if output.id in self.used_outputs[output.call] or reported:
                declared[output.call].append(output.id)
        for call, output_ids in declared.items():
            taken = _Names()
            seen_values: set[int] = set()
            for output_id in output_ids:
                output = self.outputs_by_id[output_id]
                if output_id not in self.used_outputs[call] and output.value_id in seen_values:
                    continue
                seen_values.add(output.value_id)
                last = re.sub(r"\[\d+\]", "", output.path).rsplit(".", 1)[-1]
                name = last if last not in taken.taken else _identifier(output.path)
                names[output_id] = (self.step_names[call], taken.unique(name))
        return names

    def _beside_created_secret(self, call: int, path: str) -> bool:
        """An id next to a secret the call creates (AccessKey.AccessKeyId): what the secret goes with."""
        made = self.session.call_event(call).call
        parent = path.rpartition(".")[0]
        return any(secret.rpartition(".")[0] == parent
                   for secret in unlogged.created_secrets(made.service, made.operation))

    def _outputs_of(self, call: int) -> list[Output]:
        outputs = []
        for output in self.outputs_by_call[call]:
            if output.id in self.output_names:
                outputs.append(Output(
                    name=self.output_names[output.id][1],
                    selector="$." + output.path,
                    type=SSM_OUTPUT_TYPES.get(output.type, "String"),
                    path=output.path,
                ))
        for output_id, source in self.list_outputs.items():
            if source.call == call:
                outputs.append(Output(name=self.list_output_names[output_id],
                                      selector=list_selector(source.path, source.where),
                                      type="StringList", path=source.path, where=source.where))
        # The secrets the call creates: the scripts keep them in a file the user names.
        event = self.session.call_event(call)
        taken = _Names(reserved=tuple(output.name for output in outputs))
        for path in unlogged.created_secrets(event.call.service, event.call.operation):
            name = taken.unique(path.rsplit(".", 1)[-1])
            outputs.append(Output(name=name, selector="$." + path, type="String", path=path, secret=True))
        return outputs

    # -- steps ------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        steps = []
        merged_into: dict[int, list[int]] = defaultdict(list)
        for call, earlier in self.answer.merged.items():
            merged_into[earlier].append(call)
        polls = {poll.call: poll for poll in self.session.polls}
        for call in self.steps_taken:
            event = self.session.call_event(call)
            records = [_record(self.session.call_event(number)) for number in [call, *sorted(merged_into[call])]]
            waiter = self.answer.waits.get(call)
            step = Step(
                name=self.step_names[call],
                service=event.call.service,
                api=event.call.operation,
                request=self._request(call),
                outputs=[] if waiter else self._outputs_of(call),
                records=records,
                description=_step_description(event, len(records)),
            )
            if waiter:
                step.wait = wait_of(event.call.service, waiter)
                step.action = WAIT_FOR_PROPERTY if step.wait.property_selector else EXECUTE_AWS_API
                step.description = _wait_description(self.session, polls[call], waiter)
            if call in self.answer.retries:
                failures = self.session.failures[call]
                step.retry = Retry(
                    max_attempts=max(RETRY_ATTEMPTS, failures.count + 2),
                    errors=sorted({code.split(".", 1)[-1] for code in failures.codes if ERROR_CODE.match(code)}),
                )
                step.description += (f" The log shows it failed {_times(failures.count)} "
                                     f"({', '.join(failures.codes)}) before it succeeded, so it is retried.")
            steps.append(step)
        return self._nest(steps)

    def _nest(self, steps: list[Step]) -> list[Step]:
        """The steps with each used loop's body steps inside its loop step (outer loops first),
        and a batched loop's one call standing for all of the loop's calls."""
        by_name = {step.name: step for step in steps}
        for loop_id in self.answer.batched:
            loop = self.loops[loop_id]
            step = by_name[self.step_names[loop.body[0]]]
            step.batch = self.session.slots[loop.key_slot - 1].path.rsplit("[", 1)[0]
            step.records = [_record(self.session.call_event(call)) for call in loop.calls]
            step.description += (f" The log shows {plural(len(loop.calls), 'such call')}, one per element of a list: "
                                 f"this one call takes the whole list in {step.batch}.")
        calls_of = {name: call for call, name in self.step_names.items()}
        bodies = {loop_id: set(self.loops[loop_id].body) for loop_id in self.loop_names}

        def nest(items: list[Step], outside: frozenset) -> list[Step]:
            nested: list[Step] = []
            emitted: set[int] = set()
            for step in items:
                call = calls_of[step.name]
                enclosing = [loop_id for loop_id, body in bodies.items() if call in body and loop_id not in outside]
                if not enclosing:
                    nested.append(step)
                    continue
                outer = max(enclosing, key=lambda loop_id: (len(bodies[loop_id]), -loop_id))
                if outer in emitted:
                    continue
                emitted.add(outer)
                body = [item for item in items if calls_of[item.name] in bodies[outer]]
                nested.append(self._loop_step(outer, nest(body, outside | {outer})))
            return nested

        return nest(steps, frozenset())

    def _loop_step(self, loop_id: int, body: list[Step]) -> Step:
        loop = self.loops[loop_id]
        over = self._list_of(loop_id)
        events = [self.session.call_event(call) for call in loop.calls]
        if isinstance(over, InputRef):
            walked = f"each {self._key_member(loop)} of input {over.name}"
        elif isinstance(over, OutputRef):
            walked = f"each element of {over.step}.{over.output}"
        else:
            walked = f"each of the {plural(len(over), self._key_member(loop))} the log shows"
        return Step(
            name=self.loop_names[loop_id], service="", api="", request={}, action=LOOP,
            records=[_record(event) for event in events],
            description=(f"Repeats {plural(len(body), 'step')} for {walked}: {_who(events[0])} made "
                         f"{plural(len(loop.iterations), 'such iteration')} between {events[0].time} and {events[-1].time}."),
            loop=Loop(over=over, steps=body, iterations=len(loop.iterations)),
        )

    def _request(self, call: int) -> dict:
        event = self.session.call_event(call)
        request = _without_idempotency_tokens(event.call)
        fragments: dict[tuple, list[Slot]] = defaultdict(list)
        for slot in self.slots_by_call[call]:
            binding = self.answer.bindings.get(slot.id)
            if binding is None or (slot.whole and binding.kind == "literal"):
                continue  # within a structure taken whole; or a structure spelled out by the slots within it
            if slot.span is not None:
                fragments[slot.keys].append(slot)
                continue
            batch = binding.loop if binding.kind == "item" else self.gathered_keys.get(slot.id)
            if batch in self.answer.batched:
                _set_at(request, slot.keys[:-1], self._list_of(batch))
                continue
            _set_at(request, slot.keys, self._value_of(slot))
        for keys, pieces in fragments.items():
            text = _get_at(request, keys)
            _set_at(request, keys, self._template(text, pieces, self.skeletons.get((call, keys))))
        return _plain(request)

    def _value_of(self, slot: Slot, as_element: bool = False):
        """Where the slot's value comes from; the first element of a gathered list (``as_element``)
        is its key slot's own source, which the body reads as the loop's element."""
        if slot.id in self.gathered_keys and not as_element:
            return ItemRef(self.loop_names[self.gathered_keys[slot.id]])
        binding = self.answer.bindings[slot.id]
        if binding.kind == "output":
            step, name = self.output_names[binding.output]
            return OutputRef(step, name)
        if binding.kind in ("input", "secret"):
            return InputRef(self.input_names[slot.value_id])
        if binding.kind == "runtime":
            return GlobalRef(RUNTIME_GLOBALS[binding.runtime])
        if binding.kind == "item":
            way = self.session.derivations[binding.derivation - 1]
            name = self.loop_names[binding.loop]
            reference = ItemRef(name) if way.kind == "element" else IndexRef(name)
            parts = tuple(part for part in (way.prefix, reference, way.suffix) if part != "")
            return reference if parts == (reference,) else Template(parts)
        return list(slot.value) if isinstance(slot.value, tuple) else slot.value

    def _template(self, text: str, pieces: list[Slot], skeleton=None):
        """The string as literal text and references; ``skeleton`` (loop id, derivation) where
        the text around the fragments varies with a loop (``{{ VpcId }}-`` + the iteration)."""
        parts: list = []
        position = 0
        # Of overlapping fragments, the ones the solver left uncut stay in the literal text.
        cut = [piece for piece in pieces if self.answer.bindings[piece.id].kind != "literal"]
        pieces = sorted((piece for piece in pieces if piece in cut or not any(
            other.span[0] < piece.span[1] and piece.span[0] < other.span[1] for other in cut)),
            key=lambda piece: piece.span[0])
        if skeleton is not None:
            loop_id, way = skeleton
            name = self.loop_names[loop_id]
            values = iter(self._value_of(slot) for slot in pieces)
            for text_part in (way.prefix, ItemRef(name) if way.kind == "element" else IndexRef(name), way.suffix):
                if not isinstance(text_part, str):
                    parts.append(text_part)
                    continue
                literal, *rest = text_part.split("\0")
                parts.append(literal)
                for after in rest:
                    parts += [next(values), after]
            return _joined(parts)
        for slot in pieces:
            start, end = slot.span
            if start > position:
                parts.append(text[position:start])
            value = self._value_of(slot)
            if isinstance(value, Template):
                parts.extend(value.parts)
            else:
                parts.append(value if not isinstance(value, str) else text[start:end])
            position = end
        if position < len(text):
            parts.append(text[position:])
        return _joined(parts)


def _joined(parts: list):
    """Parts as one literal string, one reference, or a Template: adjacent texts joined, empty
    ones and nested Templates flattened."""
    flat: list = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, Template) else [part])
    merged: list = []
    for part in flat:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    if not merged:
        return ""
    return merged[0] if len(merged) == 1 and isinstance(merged[0], str) else Template(tuple(merged))


def _step_names(session: Session, calls: list[int], waits: dict[int, str]) -> dict[int, str]:
    taken = _Names()
    return {
        call: taken.unique(f"WaitFor{waits[call]}" if call in waits else session.call_event(call).call.operation)
        for call in calls
    }


def _plural(word: str) -> str:
    return word if word.endswith("s") else word + "s"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _wait_description(session: Session, poll, waiter: str) -> str:
    event = session.call_event(poll.call)
    consumer = (f" before {session.call_event(poll.consumer).call.operation}"
                if poll.consumer is not None else "")
    return (f"Waits until {event.call.service} waiter {waiter} accepts {event.call.operation}: the log shows "
            f"{_who(event)} polling it {_times(poll.reads)}{consumer}, last at {event.time}.")


class _Names:
    """Unique names: the second CreateSubnet is CreateSubnet2, the third CreateSubnet3."""

    def __init__(self, reserved: tuple[str, ...] = ()):
        self.taken: set[str] = set(reserved)
        self.next_number: dict[str, int] = {}

    def unique(self, name: str) -> str:
        candidate = name
        number = self.next_number.get(name, 2)
        while candidate in self.taken:
            candidate, number = f"{name}{number}", number + 1
        self.next_number[name] = number
        self.taken.add(candidate)
        return candidate


def _identifier(text: str) -> str:
    """A name SSM accepts for a parameter, step or output: letters, digits and underscores."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    return "".join(word[:1].upper() + word[1:] for word in words)


def _first_sentence(documentation: str | None) -> str:
    """botocore's member documentation, as plain text, up to its first full stop."""
    return _sentences(documentation, 1)


def _sentences(documentation: str | None, count: int) -> str:
    """botocore's member documentation, as plain text, its first ``count`` sentences."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", documentation or "")).strip()
    sentences = re.match(r"((?:.+?\.(?:\s|$)){1,%d})" % count, text)
    text = sentences.group(1).strip() if sentences else text
    return text if len(text) <= 200 * count else text[:200 * count - 1] + "…"


def _hidden_input(name: str, slot: Slot, step_path: str, call) -> Input:
    """The input for a value the log does not show, typed by its shape: a secret text or JSON
    value, or the path of a file whose bytes are sent (``pysynth.unlogged.kind``)."""
    kind = unlogged.kind(slot.shape)
    # What a file must hold takes a second sentence ("User data must be base64-encoded.").
    documentation = _sentences(unlogged.documentation(call.service, call.operation, slot.keys),
                               2 if kind == unlogged.FILE else 1)
    if kind == unlogged.FILE:
        return Input(
            name=name, type="String", file=True, used_by=[step_path],
            description=f"{documentation} The log never shows this value; the scripts send the bytes of a file.".strip(),
        )
    if kind == unlogged.JSON:
        scalars = slot.shape.type_name == "list" and slot.shape.member.type_name not in ("structure", "map")
        ssm_type = "StringMap" if slot.shape.type_name != "list" else ("StringList" if scalars else "MapList")
        return Input(name=name, type=ssm_type, secret=True, used_by=[step_path],
                     description=f"{documentation} The log hides this value (JSON).".strip())
    return Input(name=name, type="String", secret=True, used_by=[step_path],
                 description=f"{documentation} The log hides this value.".strip())


def _input_type(slot: Slot) -> str:
    value = slot.value
    if isinstance(value, tuple):
        return "StringList"
    if isinstance(value, dict):
        return "StringMap"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if slot.member == "InstanceId" and isinstance(value, str) and RESOURCE_ID.match(value) and value.startswith("i-"):
        return "AWS::EC2::Instance::Id"
    return "String"


def _json_value(value):
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _plain(value):
    """Request values as plain JSON-able data: timestamps as ISO 8601."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _without_idempotency_tokens(call) -> dict:
    request = copy.deepcopy(call.params)
    shape = operation_model(call.service, call.operation).input_shape
    if shape is not None:
        for member, member_shape in shape.members.items():
            if member_shape.metadata.get("idempotencyToken"):
                request.pop(member, None)
    return request


def _get_at(tree, keys: tuple):
    for key in keys:
        tree = tree[key]
    return tree


def _set_at(tree, keys: tuple, value) -> None:
    for key in keys[:-1]:
        tree = tree[key]
    tree[keys[-1]] = value


def _record(event: Event) -> RecordRef:
    return RecordRef(file=event.file, index=event.index, event_id=event.event_id, time=event.time)


def _step_description(event: Event, records: int) -> str:
    retries = f" (and {records - 1} identical retr{'y' if records == 2 else 'ies'})" if records > 1 else ""
    return f"{event.call.service} {event.call.operation} as {_who(event)} did at {event.time}{retries}."


def _who(event: Event) -> str:
    """The caller by name: its ARN would put the account id into the runbook."""
    principal = event.principal
    return principal.user_name or principal.session_name or principal.role_name or principal.kind or "someone"


def _description(session: Session) -> str:
    writes = [event for event in session.calls if not event.read_only]
    first, last = writes[0], writes[-1]
    principals = sorted({_who(event) for event in writes})
    return (
        f"Reproduces {plural(len(writes), 'write call')} made by {', '.join(principals)} "
        f"between {first.time} and {last.time}, synthesized by pysynth from CloudTrail."
    )

