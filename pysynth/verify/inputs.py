"""Each input's value in one demonstration. Against one demonstration an input takes its default,
as the runbook would run with no parameter given. Against several, each demonstration gave its own
values: an input's value is unified from the call of its first use (the value the request shows
where the step has the input, a template's other parts taken off), else its default; an input the
demonstration never uses is unset (""), which a ``set`` test sees as not given."""

from __future__ import annotations

from pysynth.model import InputRef, Runbook, Template
from pysynth.paths import path_text
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
        An input whose value the call cannot show (hidden, or in a template that does not fit)
        takes its default."""
        if not self.inferred:
            return
        for name, value in _unified(resolve, request, expected, (), hidden):
            if name in self.inputs and name not in self.bound and not self.inputs[name].secret:
                default = self.inputs[name].default
                if not isinstance(value, Unknown):
                    self.bound[name] = value
                elif default is not None:
                    self.bound[name] = default


def _unified(resolve, node: object, expected: object, keys: tuple, hidden: set[str]):
    """(input name, the value in its place, or Unknown where the call shows none) for every input
    in ``node``."""
    if isinstance(node, InputRef):
        shown = expected is not ABSENT and path_text(keys) not in hidden
        yield node.name, expected if shown else Unknown("not shown")
    elif isinstance(node, Template):
        yield from _template_inputs(resolve, node, expected if path_text(keys) not in hidden else None)
    elif isinstance(node, dict) and isinstance(expected, dict):
        for key, child in node.items():
            yield from _unified(resolve, child, expected.get(key, ABSENT), keys + (key,), hidden)
    elif isinstance(node, list) and isinstance(expected, list) and len(node) == len(expected):
        for index, (child, wanted) in enumerate(zip(node, expected)):
            yield from _unified(resolve, child, wanted, keys + (index,), hidden)
    else:
        # The call has another shape here: no input inside can be read off it.
        for _, reference in references({"": node}):
            if isinstance(reference, InputRef):
                yield reference.name, Unknown("not shown")


def _template_inputs(resolve, template: Template, text: object):
    """A template's one unknown input is the text between what its other parts give: ``arn:aws:iam::1:user/``
    + UserName in ``arn:aws:iam::1:user/bob`` is ``bob``. With two unknowns the split is ambiguous."""
    values = [part if isinstance(part, str) else resolve(part) for part in template.parts]
    unknown = [index for index, value in enumerate(values) if isinstance(value, Unknown)]
    inputs = [(index, part.name) for index, part in enumerate(template.parts) if isinstance(part, InputRef)]
    if len(unknown) != 1 or not isinstance(text, str):
        yield from ((name, Unknown("ambiguous")) for index, name in inputs if index in unknown)
        return
    (at,) = unknown
    before = "".join(text_of(value) for value in values[:at])
    after = "".join(text_of(value) for value in values[at + 1:])
    part = template.parts[at]
    fits = text.startswith(before) and text.endswith(after) and len(text) >= len(before) + len(after)
    if isinstance(part, InputRef):
        yield part.name, text[len(before):len(text) - len(after)] if fits else Unknown("does not fit")
