"""Progress of a run, step by step, and of a loop's steps iteration by iteration."""

from __future__ import annotations

from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from pysynth.model import Step


class Reporter(Protocol):
    """Progress of a run. ``iteration`` names the loop iteration a body step runs in
    (``EachBucket iteration 2/5``); it is empty for the runbook's own steps."""

    def started(self, position: int, total: int, step: Step, call: str, iteration: str) -> None: ...

    def finished(self, step: Step, seconds: float, missing: list[str], outcome: str = "") -> None: ...


class ConsoleReporter:
    """Progress on a rich console (stderr): a line per step done and, on a terminal, a bar over the
    runbook's own steps showing the step that is running. Use it as a context manager so the bar is
    gone before any message."""

    def __init__(self, console: Console, planning: bool):
        self.console = console
        self.verb = "planned" if planning else "ran"
        self.planning = planning
        self.bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=not console.is_terminal,
        )
        self.task = None
        # What each started step is called in its line, and whether it is one of the runbook's own
        # steps: a loop step finishes after its body's steps have started.
        self.labels: dict[str, tuple[str, bool]] = {}

    def __enter__(self) -> ConsoleReporter:
        self.bar.start()
        return self

    def __exit__(self, *exception) -> None:
        self.bar.stop()

    def started(self, position: int, total: int, step: Step, call: str, iteration: str) -> None:
        label = f"{iteration + ': ' if iteration else ''}{position}/{total} {step.name}: {call}"
        self.labels[step.name] = (label, not iteration)
        if self.task is None:  # the runbook's first step
            self.task = self.bar.add_task(label, total=total)
        if iteration:
            self.bar.update(self.task, description=label)
        else:
            self.bar.update(self.task, description=label, completed=position - 1)

    def finished(self, step: Step, seconds: float, missing: list[str], outcome: str = "") -> None:
        """``outcome``: what became of a call beyond succeeding (an error the runbook expects)."""
        label, own_step = self.labels[step.name]
        if own_step:
            self.bar.advance(self.task)
        timing = "" if self.planning else f" ({seconds:.2f} s)"
        self.console.print(Text(f"{self.verb} {label}{timing}" + (f": {outcome}" if outcome else "")))
        for reason in missing:
            self.console.print(Text(f"warning: {reason}; a step that uses this output will fail", style="yellow"))
