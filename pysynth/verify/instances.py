"""Steps as the replay runs them: a step outside loops runs once; a step in a loop body runs once per
iteration of each loop around it, each run an ``Instance`` with the element and number of every
enclosing loop's iteration (its ``frames``). ``Scopes`` says where each step sits: its place in
runbook order and the loops and branch arms around it, which decide what its references may name."""

from __future__ import annotations

from dataclasses import dataclass, field

from pysynth.model import Step
from pysynth.verify.values import element_text


@dataclass(slots=True)
class Frame:
    """One iteration of a loop: the loop step's name, the iteration's number (from 1) and the
    element of the list it is at."""

    loop: str
    number: int
    element: object


@dataclass(slots=True, eq=False)
class Instance:
    """A step in the iterations ``frames`` (outermost loop first; none outside loops). ``key``
    tells instances apart: the step's name and the iteration numbers."""

    step: Step
    frames: tuple[Frame, ...] = ()
    key: tuple[str, tuple[int, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.step.name, self.iterations)

    @property
    def iterations(self) -> tuple[int, ...]:
        return tuple(frame.number for frame in self.frames)

    @property
    def text(self) -> str:
        """How a message names it: ``step Name``, after the iterations it runs in."""
        return f"{iterations_text(self.frames)}: step {self.step.name}" if self.frames else f"step {self.step.name}"

    @property
    def loop_text(self) -> str:
        """How a message names a loop step's instance: ``loop Name``, with the iterations it runs in."""
        return f"loop {self.step.name}" + (f" in {iterations_text(self.frames)}" if self.frames else "")


def iterations_text(frames: tuple[Frame, ...]) -> str:
    """``EachBucket iteration 3 (logs-c)``, for each enclosing loop."""
    return ", ".join(f"{frame.loop} iteration {frame.number} ({element_text(frame.element)})" for frame in frames)


class Scopes:
    """Where each step of a runbook sits: ``position`` its place in runbook order (loop bodies and
    branch arms included), ``loops`` the names of the loop steps around it (outermost first),
    ``arms`` the branch arms around it (branch step name and ``steps`` or ``otherwise``), ``steps``
    the step of each name (the first, as ``Runbook.step`` finds it)."""

    def __init__(self, steps: list[Step]):
        self.position: dict[str, int] = {}
        self.loops: dict[str, tuple[str, ...]] = {}
        self.arms: dict[str, tuple[tuple[str, str], ...]] = {}
        self.steps: dict[str, Step] = {}
        self._visit(steps, (), ())

    def _visit(self, steps: list[Step], loops: tuple[str, ...], arms: tuple[tuple[str, str], ...]) -> None:
        for step in steps:
            if step.name not in self.steps:
                self.position[step.name] = len(self.position)
                self.loops[step.name] = loops
                self.arms[step.name] = arms
                self.steps[step.name] = step
            if step.loop is not None:
                self._visit(step.loop.steps, loops + (step.name,), arms)
            if step.branch is not None:
                self._visit(step.branch.steps, loops, arms + ((step.name, "steps"),))
                self._visit(step.branch.otherwise, loops, arms + ((step.name, "otherwise"),))

    def visible(self, producer: str, consumer: str) -> bool:
        """Whether ``consumer`` runs where ``producer``'s outputs exist: outside every loop
        ``producer`` is in, they do not (a body step's outputs live for its iteration), nor outside
        the branch arm it is in (the other arm, or after the branch, it may not have run)."""
        return self.in_loops(producer, consumer) and self.in_arms(producer, consumer)

    def in_loops(self, producer: str, consumer: str) -> bool:
        around = self.loops[producer]
        return self.loops[consumer][:len(around)] == around

    def in_arms(self, producer: str, consumer: str) -> bool:
        around = self.arms[producer]
        return self.arms[consumer][:len(around)] == around

    def producer_key(self, instance: Instance, producer: str) -> tuple[str, tuple[int, ...]]:
        """The instance of ``producer`` whose outputs ``instance`` reads: the one in the same
        iterations of the loops around ``producer``."""
        return producer, instance.iterations[:len(self.loops[producer])]
