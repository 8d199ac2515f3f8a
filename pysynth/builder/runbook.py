"""The runbook built from the solver's answer: for every slot the answer says where its value comes
from; the builder turns that into steps whose requests hold literals and references (see
``pysynth.model``), named inputs and outputs, waits, retries and loops."""

from __future__ import annotations

import re
from collections import defaultdict

from pysynth import unlogged
from pysynth.builder.branches import BranchSteps, program_order
from pysynth.builder.loops import LoopSteps
from pysynth.builder.texts import (
    Names, description, first_sentence, identifier, record, step_description, step_names, times, wait_description,
)
from pysynth.builder.values import (
    get_at, hidden_input, input_type, joined, json_value, plain, set_at, without_idempotency_tokens,
)
from pysynth.evidence import wait_of
from pysynth.facts import RESOURCE_ID, Session, Slot
from pysynth.model import (
    EXECUTE_AWS_API, WAIT_FOR_PROPERTY, GlobalRef, IndexRef, Input, InputRef, ItemRef, Output, OutputRef, Retry,
    Runbook, Solution, Step, Template,
)
from pysynth.paths import list_selector
from pysynth.solve import Answer, Outcome

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


def build_runbook(session: Session, answer: Answer, outcome: Outcome) -> Runbook:
    builder = RunbookBuilder(session, answer)
    return Runbook(
        description=description(session),
        inputs=builder.inputs(),
        steps=builder.steps(),
        solution=Solution(
            objectives=dict(zip(outcome.objectives, answer.cost)),
            optimal=outcome.optimal,
            models=int(outcome.stats.get("models", 0)),
            seconds=round(float(outcome.stats.get("ground_seconds", 0)) + float(outcome.stats.get("solve_seconds", 0)), 3),
        ),
    )



class RunbookBuilder(LoopSteps, BranchSteps):

    def __init__(self, session: Session, answer: Answer):
        self.session = session
        self.answer = answer
        # The planned order: moments as logged, the steps of a moment by the ranks the solver chose
        # (several demonstrations: the program's steps, see builder.branches).
        self.steps_taken = program_order(session, answer)
        self.step_names = step_names(session, self.steps_taken, answer.waits)
        self.slots_by_call: dict[int, list[Slot]] = defaultdict(list)
        for slot in session.slots:
            self.slots_by_call[slot.call].append(slot)
        self.outputs_by_id = {output.id: output for output in session.outputs}
        self.outputs_by_call: dict[int, list] = defaultdict(list)
        for output in session.outputs:
            self.outputs_by_call[output.call].append(output)
        # Several demonstrations: an output of a step that stands for another demonstration's is
        # that step's output at the same place (asp/demos.lp: program_output).
        self.program_outputs: dict[int, int] = {}
        if session.alignment is not None:
            for output_id, paired in session.alignment.output_pairs:
                output = self.outputs_by_id.get(output_id)
                if output is not None and self.outputs_by_id[paired].call == answer.matches.get(output.call):
                    self.program_outputs[output_id] = paired
        self.used_outputs: dict[int, set[int]] = defaultdict(set)
        for binding in answer.bindings.values():
            if binding.kind == "output":
                output = self.outputs_by_id[self.program_outputs.get(binding.output, binding.output)]
                self.used_outputs[output.call].add(output.id)
        self.output_names = self._name_outputs()
        # Response values a branch tests: call -> path -> output name.
        self.tested_outputs: dict[int, dict[str, str]] = {}
        for guard in answer.guards.values():
            if guard.kind == "equals":
                self._tested_output(guard.tested, guard.args[0])
        # Used loops of the program (a later demonstration's loop that stands for one of the first's is none).
        self.loops = {loop.id: loop for loop in session.loops if loop.id in answer.loops and loop.body[0] not in answer.matches}
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
        self.input_taken = Names(reserved=("AutomationAssumeRole",))
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
        matches, stands_for = self.answer.matches, self.answer.input_map
        for slot in self.session.slots:
            binding = self.answer.bindings.get(slot.id)
            if binding is None or binding.kind not in ("input", "secret") or slot.call in matches:
                continue
            if slot.value_id in stands_for:  # a later demonstration's value of the first's input
                self.input_names.setdefault(slot.value_id, self.input_names.get(stands_for[slot.value_id]))
            if self.input_names.get(slot.value_id) is None:
                self.input_names.pop(slot.value_id, None)
            step_path = self._slot_place(slot)
            if slot.value_id in self.input_names:
                self._inputs[self.input_names[slot.value_id]].used_by.append(step_path)
                continue
            if binding.kind == "secret":
                named_by = identifier(slot.path)
            else:
                named_by = first_member.get(slot.value_id) or (slot.span and self._resource_name(slot))
            name = taken.unique(identifier(named_by or slot.member) or "Value")
            self.input_names[slot.value_id] = name
            if binding.kind == "secret":
                self._inputs[name] = hidden_input(name, slot, step_path, self.session.call_event(slot.call).call)
            else:
                described = first_sentence(slot.shape.documentation) or slot.member
                if slot.key_attribute:
                    described = f"Key attribute {slot.key_attribute} of the item. {described}"
                self._inputs[name] = Input(
                    name=name, type=input_type(slot), default=json_value(slot.value), used_by=[step_path],
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
        text = get_at(self.session.call_event(slot.call).call.params, slot.keys)
        before = text[:slot.span[0]]
        segment = before.rstrip(":").rsplit(":", 1)[-1].split("/", 1)[0]
        kind = "Id" if UUID.fullmatch(str(slot.value)) else "Name"
        if re.fullmatch(r"[A-Za-z][A-Za-z-]*", segment) and segment != "arn":
            return segment[:1].upper() + segment[1:] + kind
        stem = re.sub(r"(Arns?|Urls?|Uri)$", "", slot.member)
        return stem + "Name" if stem != slot.member else None

    def inputs(self) -> list[Input]:
        return list(self._inputs.values())


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
            taken = Names()
            seen_values: set[int] = set()
            for output_id in output_ids:
                output = self.outputs_by_id[output_id]
                if output_id not in self.used_outputs[call] and output.value_id in seen_values:
                    continue
                seen_values.add(output.value_id)
                last = re.sub(r"\[\d+\]", "", output.path).rsplit(".", 1)[-1]
                name = last if last not in taken.taken else identifier(output.path)
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
        taken = Names(reserved=tuple(output.name for output in outputs))
        for path in unlogged.created_secrets(event.call.service, event.call.operation):
            name = taken.unique(path.rsplit(".", 1)[-1])
            outputs.append(Output(name=name, selector="$." + path, type="String", path=path, secret=True))
        return outputs + self._tested_outputs_of(call)

    # -- steps ------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        steps = []
        merged_into: dict[int, list[int]] = defaultdict(list)
        for call, earlier in self.answer.merged.items():
            merged_into[earlier].append(call)
        polls = {poll.call: poll for poll in self.session.polls}
        for call in self.steps_taken:
            event = self.session.call_event(call)
            records = [record(self.session.call_event(number)) for number in [call, *sorted(merged_into[call])]]
            waiter = self.answer.waits.get(call)
            step = Step(
                name=self.step_names[call],
                service=event.call.service,
                api=event.call.operation,
                request=self._request(call),
                outputs=[] if waiter else self._outputs_of(call),
                records=records,
                description=step_description(event, len(records)),
            )
            if waiter:
                step.wait = wait_of(event.call.service, waiter)
                step.action = WAIT_FOR_PROPERTY if step.wait.property_selector else EXECUTE_AWS_API
                step.description = wait_description(self.session, polls[call], waiter)
            if call in self.answer.retries:
                failures = self.session.failures[call]
                step.retry = Retry(
                    max_attempts=max(RETRY_ATTEMPTS, failures.count + 2),
                    errors=sorted({code.split(".", 1)[-1] for code in failures.codes if ERROR_CODE.match(code)}),
                )
                step.description += (f" The log shows it failed {times(failures.count)} "
                                     f"({', '.join(failures.codes)}) before it succeeded, so it is retried.")
            step.expected_errors = self._expected_errors(call)
            steps.append(step)
        return self._branch(self._nest(steps))

    def _request(self, call: int) -> dict:
        event = self.session.call_event(call)
        request = without_idempotency_tokens(event.call)
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
                set_at(request, slot.keys[:-1], self._list_of(batch))
                continue
            set_at(request, slot.keys, self._value_of(slot))
        for keys, pieces in fragments.items():
            text = get_at(request, keys)
            set_at(request, keys, self._template(text, pieces, self.skeletons.get((call, keys))))
        return plain(request)

    def _value_of(self, slot: Slot, as_element: bool = False):
        """Where the slot's value comes from; the first element of a gathered list (``as_element``)
        is its key slot's own source, which the body reads as the loop's element."""
        if slot.id in self.gathered_keys and not as_element:
            return ItemRef(self.loop_names[self.gathered_keys[slot.id]])
        binding = self.answer.bindings[slot.id]
        if binding.kind == "output":
            step, name = self.output_names[self.program_outputs.get(binding.output, binding.output)]
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
            return joined(parts)
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
        return joined(parts)
