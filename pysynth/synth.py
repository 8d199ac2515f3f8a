"""Synthesis: kept calls -> analysed session -> facts -> solver -> runbook models
(``pysynth.builder`` turns each answer into a runbook)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pysynth import collector
from pysynth.builder import build_runbook
from pysynth.demos import Demonstration
from pysynth.facts import Session, analyse_demonstrations
from pysynth.ingest.events import Event
from pysynth.model import Runbook
from pysynth.resources import asp_root
from pysynth.solve import Outcome, solve


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
    **options,
) -> Synthesis:
    """The runbook of one demonstration: its kept write calls, successful reads and failed calls."""
    return synthesize_demonstrations([Demonstration("log", list(calls), list(reads), list(failed))], **options)


def synthesize_demonstrations(
    demonstrations: list[Demonstration],
    *,
    policies: list[Path] = (),
    objectives: Path | None = None,
    models: int = 1,
    time_limit: float | None = None,
    target: str | None = None,
) -> Synthesis:
    """``target``: the format the runbook is for; what it cannot run (``asp/targets/<target>.lp``,
    SSM: nested loops) is ruled out like a policy."""
    for demonstration in demonstrations:
        if not demonstration.kept:
            raise NothingToSynthesize(f"no write call of {demonstration.name} was kept, so there is nothing to automate")
    limits = asp_root() / "targets" / f"{target}.lp"
    if target is not None and limits.is_file():
        policies = [*policies, Path(str(limits))]
    with collector.paused():
        session = analyse_demonstrations(demonstrations)
        outcome = solve(session.facts(), policies=policies, objectives=objectives, models=models, time_limit=time_limit)
        synthesis = Synthesis(session, outcome)
        if outcome.satisfiable:
            synthesis.runbooks = [build_runbook(session, answer, outcome) for answer in outcome.answers]
    return synthesis


