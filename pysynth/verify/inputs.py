"""Each input's value in one demonstration. Against one demonstration an input takes its default,
as the runbook would run with no parameter given. Against several, each demonstration gave its own
values: an input's value is unified from the call of its first use (the value the request shows
where the step has the input, a template's other parts taken off), else its default; a list input
a loop walks is the elements its iterations show; an input the demonstration never uses is unset
(""), which a ``set`` test sees as not given."""

from __future__ import annotations

from pysynth.model import InputRef, ItemRef, Runbook, Template, walk
from pysynth.paths import path_text
from pysynth.verify.instances import Frame, Instance
from pysynth.verify.problems import API_ACTIONS
from pysynth.verify.values import ABSENT, Unknown, references, text_of

# An input no step of the demonstration used: not given (SSM's value of an optional String input).
UNSET = ""


class InputValues:
    def __init__(self, runbook: Runbook, inferred: bool):
        self.inputs = {item.name: item for item in runbook.inputs}
        self.inferred = inferred
        self.bound: dict[str, object] = {}

    def value(self, name: str) -> object:
        """The input's value so far (Unknown while a demonstration has not shown it yet)."""
        item = self.inputs[name]
        if self.inferred and not item.secret:
            return self.bound[name] if name in self.bound else Unknown(f"no step has used input {name} yet")
        if item.default is None:
            return Unknown(f"input {name} is secret" if item.secret else f"input {name} has no default")
        return item.default

    def tested(self, name: str) -> object:
        """The value a branch test sees: once nothing more can show it, an unused input is unset."""
        value = self.value(name)
        return UNSET if isinstance(value, Unknown) and self.inferred and not self.inputs[name].secret else value

    def unify(self, resolve, request: dict, expected: object, hidden: set[str]) -> None:
        """Bind each input of ``request`` not bound yet to what the call shows in its place
        (``expected``: the call's request); ``resolve`` gives the other references their values.
        An input whose value the call cannot show (hidden, left out, in a template that does not
        fit) takes its default."""
        if not self.inferred:
            return
        for reference, value in unified(resolve, request, expected, hidden, lambda found: isinstance(found, InputRef)):
            name = reference.name
            if name in self.inputs and name not in self.bound and not self.inputs[name].secret:
                default = self.inputs[name].default
                if not isinstance(value, Unknown):
                    self.bound[name] = value
                elif default is not None:
                    self.bound[name] = default

    def walked(self, replay, instance) -> list | Unknown:
        """The list input a loop step's instance walks. Against several demonstrations, where no
        step has used it yet, its first use is the loop itself: the list is the elements the
        iterations show, each the value a body step's call sends where the step has the loop's
        element, in log order (the calls of its operation no other step has made that fit the
        rest of its request), else the input's default."""
        name = instance.step.loop.over.name
        value = self.value(name)
        if self.inferred and isinstance(value, Unknown) and not self.inputs[name].secret:
            elements = _shown_elements(replay, instance)
            if elements:
                self.bound[name] = value = elements
            elif self.inputs[name].default is not None:
                self.bound[name] = value = self.inputs[name].default
        return value if isinstance(value, list) else Unknown(f"input {name} has no list as its default")


def _shown_elements(replay, instance) -> list:
    """The elements a loop's iterations show: over the first run of its body's operations after the
    calls matched so far, each call of the first body step that uses the loop's element and fits
    the rest of that step's request gives the element it sends there."""
    loop = instance.step.name
    element = ItemRef(loop)
    around = replay.scopes.loops[loop] + (loop,)
    body = next((step for step in walk(instance.step.loop.steps)
                 if step.action in API_ACTIONS and replay.scopes.loops[step.name] == around
                 and any(found == element for _, found in replay.references(step))), None)
    if body is None:
        return []
    operations = {(step.service, step.api) for step in walk(instance.step.loop.steps) if step.action in API_ACTIONS}
    # The element is unknown in the probe: it counts as no difference, and is read off each call.
    probe = Instance(body, instance.frames + (Frame(loop, 1, Unknown("the element")),))
    elements = []
    for number in range(max(replay.taken, default=-1) + 1, len(replay.calls)):
        event = replay.calls[number]
        operation = (event.call.service, event.call.operation)
        if operation not in operations:
            if event.read_only or not elements:
                continue  # the run starts at the body's first call after the matched ones
            break
        if operation != (body.service, body.api) or not replay.free(probe, number) \
                or any(finding.concrete for finding in replay.findings(probe, number)):
            continue
        shown = [value for _, value in unified(lambda reference: replay.resolve(probe, reference), body.request,
                                                replay.expected[number], replay.hidden[number],
                                                lambda found: found == element)]
        if shown and not isinstance(shown[0], Unknown):
            elements.append(text_of(shown[0]))
    return elements


def unified(resolve, node: object, expected: object, hidden: set[str], wanted, keys: tuple = ()):
    """(reference, the value in its place, or Unknown where the call shows none) for every
    reference in ``node`` that is ``wanted``; ``expected`` is what the call sent."""
    if wanted(node):
        shown = expected is not ABSENT and path_text(keys) not in hidden
        yield node, expected if shown else Unknown("not shown")
    elif isinstance(node, Template):
        yield from _template_parts(resolve, node, expected if path_text(keys) not in hidden else None, wanted)
    elif isinstance(node, dict) and isinstance(expected, dict):
        for key, child in node.items():
            yield from unified(resolve, child, expected.get(key, ABSENT), hidden, wanted, keys + (key,))
    elif isinstance(node, list) and isinstance(expected, list) and len(node) == len(expected):
        for index, (child, sent) in enumerate(zip(node, expected)):
            yield from unified(resolve, child, sent, hidden, wanted, keys + (index,))
    else:
        # The call has another shape here: nothing inside can be read off it.
        for _, reference in references({"": node}):
            if wanted(reference):
                yield reference, Unknown("not shown")


def _template_parts(resolve, template: Template, text: object, wanted):
    """A template's one unknown part is the text between what its other parts give: ``arn:aws:iam::1:user/``
    + UserName in ``arn:aws:iam::1:user/bob`` is ``bob``. With two unknowns the split is ambiguous."""
    values = [part if isinstance(part, str) else resolve(part) for part in template.parts]
    unknown = [index for index, value in enumerate(values) if isinstance(value, Unknown)]
    if len(unknown) != 1 or not isinstance(text, str):
        yield from ((part, Unknown("ambiguous")) for index, part in enumerate(template.parts)
                    if index in unknown and wanted(part))
        return
    (at,) = unknown
    before = "".join(text_of(value) for value in values[:at])
    after = "".join(text_of(value) for value in values[at + 1:])
    part = template.parts[at]
    fits = text.startswith(before) and text.endswith(after) and len(text) >= len(before) + len(after)
    if wanted(part):
        yield part, text[len(before):len(text) - len(after)] if fits else Unknown("does not fit")
