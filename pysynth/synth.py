"""Synthesis: kept calls -> analysed session -> facts -> solver -> runbook models
(``pysynth.builder`` turns each answer into a runbook)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pysynth import collector
from pysynth.builder import build_runbook
from pysynth.facts import Session, analyse
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


