"""Branch steps of a runbook built from several demonstrations: the program's steps in order (the
first demonstration's, with another's own steps beside the shared step they follow), each
conditional step gathered with the others after the same shared step into one branch whose test
the solver chose, and the errors a step expects."""

from __future__ import annotations

import re

from pysynth.builder.texts import Names, identifier
from pysynth.model import BRANCH, Branch, InputRef, Output, OutputRef, Step, Test
from pysynth.solve import Answer, Guard

# Members whose name needs their parent's to say what they are (State.Name, Status.Code).
GENERIC_MEMBERS = ("Name", "Value", "Code", "Status", "Id", "Type")


def program_order(session, answer: Answer) -> list[int]:
    """The program's steps (no later demonstration's step that stands for one of the first's), in
    order: the first demonstration's as planned; another's own steps right after the last shared
    step its demonstration made before them (where their branch stands)."""
    def planned(call: int) -> tuple:
        return session.moments[call - 1], answer.ranks.get(call, 0), call

    heads = [call for call in answer.steps if call not in answer.matches]
    first = sorted((call for call in heads if session.demonstration_of(call) == 1), key=planned)
    position = {call: number for number, call in enumerate(first)}
    segments = branch_segments(session, answer, heads)

    def key(call: int) -> tuple:
        if call in position:
            return position[call], 0, 0, planned(call)
        segment = segments[call]
        return (-1 if segment is None else position[segment]), 1, session.demonstration_of(call), planned(call)

    return sorted(heads, key=key)


def branch_segments(session, answer: Answer, heads: list[int]) -> dict[int, int | None]:
    """Conditional program step -> the last shared step its demonstration made before it (its
    branch stands right after that step), or None at the start."""
    demonstrations = len(session.alignment.names) if session.alignment else 1
    present: dict[int, set[int]] = {call: {session.demonstration_of(call)} for call in heads}
    calls_of: dict[int, dict[int, int]] = {call: {session.demonstration_of(call): call} for call in heads}
    for call, head in answer.matches.items():
        present[head].add(session.demonstration_of(call))
        calls_of[head][session.demonstration_of(call)] = call
    shared = [head for head in heads if len(present[head]) == demonstrations]
    segments = {}
    for head in heads:
        if len(present[head]) == demonstrations:
            continue
        demo = session.demonstration_of(head)
        before = [(calls_of[step][demo], step) for step in shared if calls_of[step][demo] < head]
        segments[head] = max(before)[1] if before else None
    return segments


class BranchSteps:
    """The branch half of the runbook builder (``pysynth.builder.runbook``)."""

    def _expected_errors(self, call: int) -> list[str]:
        """The error codes the step's calls answered with in some demonstration (as the API
        spells them): outcomes, not failures."""
        calls = [call, *(later for later, head in self.answer.matches.items() if head == call)]
        return sorted({self.session.outcomes[each] for each in calls if each in self.session.outcomes})

    def _branch(self, steps: list[Step]) -> list[Step]:
        """The top-level steps with each group of conditional steps after one shared step (or at
        the start) inside one branch step."""
        guards = self.answer.guards
        if not guards:
            return steps
        calls_of = {name: call for call, name in self.step_names.items()}
        segments = branch_segments(self.session, self.answer, list(self.step_names))
        branched: list[Step] = []
        open_branch: tuple | None = None  # (segment, branch step)
        taken = Names(reserved=tuple(step.name for step in steps))
        for step in steps:
            call = calls_of.get(step.name) or calls_of[self._first_call_name(step)]
            guard = guards.get(call)
            if guard is None:
                branched.append(step)
                open_branch = None
                continue
            segment = segments[call]
            if open_branch is None or open_branch[0] != segment:
                branch_step = Step(name=taken.unique(self._branch_name(guard)), service="", api="", request={},
                                   action=BRANCH, branch=Branch(self._test(guard), [], []),
                                   description=self._branch_description(guard))
                branched.append(branch_step)
                open_branch = (segment, branch_step)
            arm = open_branch[1].branch.steps if guard.holds else open_branch[1].branch.otherwise
            arm.append(step)
        return branched

    def _first_call_name(self, step: Step) -> str:
        """A loop step's first body step's name: where the loop stands in the program."""
        while step.loop is not None:
            step = step.loop.steps[0]
        return step.name

    def _test(self, guard: Guard) -> Test:
        if guard.kind == "set":
            name = self.input_names[guard.args[0]]
            self._inputs[name].default = ""
            return Test(kind="set", value=InputRef(name))
        tested = self.step_names[guard.tested]
        if guard.kind == "failed":
            return Test(kind="failed", step=tested, codes=[guard.args[0]])
        path, text = guard.args
        return Test(kind="equals", value=OutputRef(tested, self._tested_output(guard.tested, path)), text=text)

    def _tested_output(self, call: int, path: str) -> str:
        """The output of the tested step at ``path``, declared on it if no step reads it yet."""
        step = self.tested_outputs.setdefault(call, {})
        if path not in step:
            taken = Names(reserved=tuple(name for (owner, name) in self.output_names.values()
                                          if owner == self.step_names[call]) + tuple(step.values()))
            words = re.sub(r"\[\d+\]", "", path).split(".")
            # "Name" alone says little: State.Name is StateName.
            name = "".join(words[-2:]) if len(words) > 1 and words[-1] in GENERIC_MEMBERS else words[-1]
            step[path] = taken.unique(identifier(name))
        return step[path]

    def _tested_outputs_of(self, call: int) -> list[Output]:
        return [Output(name=name, selector="$." + path, type="String", path=path)
                for path, name in self.tested_outputs.get(call, {}).items()]

    def _branch_name(self, guard: Guard) -> str:
        if guard.kind == "set":
            return "If" + self.input_names[guard.args[0]] + "Given"
        tested = self.step_names[guard.tested]
        if guard.kind == "failed":
            return f"If{tested}Failed"
        return f"If{tested}{identifier(guard.args[1])}"

    def _branch_description(self, guard: Guard) -> str:
        names = self.session.alignment.names
        made = "the demonstrations"
        if guard.kind == "set":
            return f"Runs its steps only when {self.input_names[guard.args[0]]} is given: {made} differ in it."
        tested = self.step_names[guard.tested]
        if guard.kind == "failed":
            return (f"Tells apart by how {tested} answered: {made} ({', '.join(names)}) went on differently "
                    f"after it failed with {guard.args[0]} and after it succeeded.")
        return (f"Tells apart by {tested}'s {guard.args[0]}: {made} ({', '.join(names)}) went on differently "
                f"where it was {guard.args[1]}.")
