"""Loop steps of a runbook built from the solver's answer: what each used loop is called, the list
it walks (an input list, a literal or gathered list, a list output of the step that read it), its
body nested inside it, and a batched loop's one call."""

from __future__ import annotations

import re

from pysynth.builder.texts import Names, first_sentence, identifier, plural_word, record, who
from pysynth.builder.values import json_value
from pysynth.model import LOOP, InputRef, Input, Loop, OutputRef, Step
from pysynth.render.prose import plural


class LoopSteps:
    """The loop half of the runbook builder (``pysynth.builder.runbook``): its methods read the
    builder's session, answer and names."""

    def _key_member(self, loop) -> str:
        """The key's member in the singular: ``Bucket``, ``InstanceId`` (of ``InstanceIds``); the key
        attribute of an item's key (``id``)."""
        key = self.session.slots[loop.key_slot - 1]
        member = key.key_attribute or key.member or "Item"
        return member[:-1] if member.endswith(("Ids", "Names", "Arns", "Keys")) else member

    def _name_loops(self) -> dict[int, str]:
        """Loop id -> its step's name (``EachBucket``), for every used loop that is a loop step."""
        taken = Names(reserved=tuple(self.step_names.values()))
        return {loop_id: taken.unique("Each" + identifier(self._key_member(loop)))
                for loop_id, loop in self.loops.items() if loop_id not in self.answer.batched}

    def _name_list_outputs(self) -> dict[int, str]:
        """List output id -> its name on the step whose response holds the list."""
        names = {}
        for output_id, source in sorted(self.list_outputs.items()):
            taken = Names(reserved=tuple(name for (step, name) in self.output_names.values()
                                          if step == self.step_names[source.call]))
            words = re.findall(r"[A-Za-z0-9]+", source.path.replace("[*]", ""))
            last, parent = words[-1], (words[-2] if len(words) > 1 else "")
            singular = parent[:-1] if parent.endswith("s") else parent
            name = plural_word(last) if not singular or last.startswith(singular) else singular + plural_word(last)
            if source.where is not None:
                named = source.where.test == "equals" and source.where.value[:1].isalpha()
                name = (identifier(source.where.value) if named else
                        "Tagged" if source.where.test == "tag" else "Matching") + name
            names[output_id] = taken.unique(identifier(name))
        return names

    def _name_list_inputs(self) -> dict[int, str]:
        """Loop id -> the StringList input it walks, for loops over an input list."""
        names = {}
        for loop_id, loop in self.loops.items():
            if self.answer.loops[loop_id] != "input":
                continue
            name = self.input_taken.unique(plural_word(identifier(self._key_member(loop))))
            names[loop_id] = name
            slot = self.session.slots[loop.key_slot - 1]
            user = self.loop_names.get(loop_id) or self.step_names[loop.body[0]]
            self._inputs[name] = Input(
                name=name, type="StringList", default=[json_value(element) for element in loop.elements],
                used_by=[user],
                description=(f"One {slot.member} per iteration"
                             + (f": {first_sentence(slot.shape.documentation)}" if slot.shape.documentation else ".")),
            )
        return names

    def _list_of(self, loop_id: int):
        """What a used loop walks: its input list, its literal list, the list output of the step
        that holds it, or the list gathered from each iteration's value (inputs, outputs)."""
        source = self.answer.loops[loop_id]
        if source == "input":
            return InputRef(self.list_inputs[loop_id])
        if source == "literal":
            return [json_value(element) for element in self.loops[loop_id].elements]
        if source == "gathered":
            return [self._value_of(self.session.slots[slot - 1], as_element=True)
                    for slot in self.loops[loop_id].element_slots]
        return OutputRef(self.step_names[self.list_outputs[source].call], self.list_output_names[source])

    # -- outputs ----------------------------------------------------------------------------

    def _nest(self, steps: list[Step]) -> list[Step]:
        """The steps with each used loop's body steps inside its loop step (outer loops first),
        and a batched loop's one call standing for all of the loop's calls."""
        by_name = {step.name: step for step in steps}
        for loop_id in self.answer.batched:
            loop = self.loops[loop_id]
            step = by_name[self.step_names[loop.body[0]]]
            step.batch = self.session.slots[loop.key_slot - 1].path.rsplit("[", 1)[0]
            step.records = [record(self.session.call_event(call)) for call in loop.calls]
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
            records=[record(event) for event in events],
            description=(f"Repeats {plural(len(body), 'step')} for {walked}: {who(events[0])} made "
                         f"{plural(len(loop.iterations), 'such iteration')} between {events[0].time} and {events[-1].time}."),
            loop=Loop(over=over, steps=body, iterations=len(loop.iterations)),
        )
