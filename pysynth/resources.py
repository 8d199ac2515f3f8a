"""The encodings (``asp/``) and templates (``templates/``) shipped inside the package."""

from __future__ import annotations

from importlib.resources import as_file, files
from importlib.resources.abc import Traversable


def asp_root() -> Traversable:
    return files("pysynth") / "asp"


def templates_root() -> Traversable:
    return files("pysynth") / "templates"


__all__ = ["as_file", "asp_root", "templates_root"]
