"""From the solver's answer to the runbook model: ``runbook`` builds steps, inputs and outputs,
``loops`` the loop steps, ``values`` the request values, ``texts`` names and descriptions."""

from pysynth.builder.runbook import build_runbook

__all__ = ["build_runbook"]
