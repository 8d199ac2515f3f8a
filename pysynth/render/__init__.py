"""Render a runbook as an SSM Automation document, a bash script or a boto3 script (or its JSON
model), and check every rendering before anyone sees it.

Values in a runbook come from logs and are untrusted. Each format has one escaping function, used
for every value it writes: ``ssm.yaml_string``, ``bash.shell_quote`` and ``repr`` for Python.

``render`` refuses a runbook with problems of its own (``validate``: dangling references, a request
botocore rejects…) by raising ``RenderError``; ``check`` lists those and the problems of a rendered
text (YAML that does not read back to the runbook, bash that fails ``bash -n`` or shellcheck, Python
that does not compile); ``render_checked`` renders and checks, and ``checked_rendering`` also gives
the SSM document as the check read it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import jinja2

from pysynth import collector
from pysynth.model import Runbook, runbook_from_json, runbook_to_json
from pysynth.render import bash, python, ssm
from pysynth.render.names import environment_name, option_name
from pysynth.render.prose import comment
from pysynth.render.shapes import (
    Context,
    item_shape,
    known_operation,
    member_shape,
    placeholder_value,
)
from pysynth.render.ssm import ASSUME_ROLE, ASSUME_ROLE_PATTERN, SSM_OUTPUT_TYPES
from pysynth.render.validate import model_problems
from pysynth.resources import templates_root

FORMATS = ("ssm", "bash", "python", "json")
TEMPLATES = {"ssm": "ssm.yaml.j2", "bash": "bash.sh.j2", "python": "python.py.j2"}
RENDERERS = {"ssm": ssm, "bash": bash, "python": python}


class RenderError(Exception):
    """A runbook or its rendering has problems; the message lists them one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def render(runbook: Runbook, fmt: str) -> str:
    """The runbook as ``fmt`` text. Raises ``RenderError`` when the runbook cannot be rendered."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(runbook_to_json(runbook), indent=2, ensure_ascii=False) + "\n"
    problems = model_problems(runbook, fmt)
    if problems:
        raise RenderError(problems)
    view = RENDERERS[fmt].view(Context(runbook))
    return _environment().get_template(TEMPLATES[fmt]).render(**view)


def check(runbook: Runbook, fmt: str, text: str) -> list[str]:
    """Problems of ``text`` as the ``fmt`` rendering of ``runbook``; [] when it is fine."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    problems = [] if fmt == "json" else model_problems(runbook, fmt)
    return problems + _read_back(runbook, fmt, text)[0]


@dataclass(frozen=True)
class Rendering:
    """A rendering that passed its checks, and the SSM document its check read the text back as
    (None in the other formats): what checks the document further (``pysynth.lint``) reads it
    without parsing a large text again."""

    text: str
    document: object = None


def render_checked(runbook: Runbook, fmt: str) -> str:
    return checked_rendering(runbook, fmt).text


def checked_rendering(runbook: Runbook, fmt: str) -> Rendering:
    with collector.paused():
        text = render(runbook, fmt)
        # render refused a runbook with problems of its own: only the text is left to check.
        problems, document = _read_back(runbook, fmt, text)
    if problems:
        raise RenderError(problems)
    return Rendering(text, document)


def _read_back(runbook: Runbook, fmt: str, text: str) -> tuple[list[str], object]:
    """The problems of ``text`` as the ``fmt`` rendering of ``runbook``, and the SSM document it
    reads as."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return [f"the {fmt} text cannot be written as UTF-8 ({error.reason} at {error.start})"], None
    if fmt == "ssm":
        return ssm.read_back(runbook, text)
    check_text = _check_json if fmt == "json" else RENDERERS[fmt].check_text
    return check_text(runbook, text), None


def _check_json(runbook: Runbook, text: str) -> list[str]:
    try:
        read = runbook_from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as error:
        return [f"the JSON model does not read back: {error}"]
    return [] if read == runbook else ["the JSON model reads back as a different runbook"]


def _template_source(name: str) -> str:
    return templates_root().joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        yaml=ssm.yaml_scalar, yaml_key=ssm.yaml_key, yaml_prose=ssm.yaml_prose, yaml_value=ssm.yaml_value,
        sh=bash.shell_quote, py=repr, comment=comment,
    )
    return environment


__all__ = [
    "ASSUME_ROLE", "ASSUME_ROLE_PATTERN", "FORMATS", "SSM_OUTPUT_TYPES", "RenderError", "check", "environment_name",
    "Rendering", "checked_rendering", "item_shape", "known_operation", "member_shape", "option_name",
    "placeholder_value", "render", "render_checked",
]
