"""The installed package carries its encodings and templates, found without the checkout."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


def test_encodings_and_templates_are_found_through_the_installed_package():
    probe = (
        "from pysynth.resources import asp_root, templates_root;"
        "print(asp_root().joinpath('main.lp').is_file(), any(templates_root().iterdir()))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tempfile.gettempdir())
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_the_code_is_ruff_clean():
    # The rule set is pinned in pyproject.toml, so this means the same whichever ruff is installed.
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "ruff", "check", str(root)], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_wheel_holds_every_module_encoding_and_template_of_the_checkout(tmp_path):
    import zipfile

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(tmp_path), str(root)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("pysynth-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"pysynth/{path.relative_to(root / 'pysynth').as_posix()}"
                for path in (root / "pysynth").rglob("*.py") if "__pycache__" not in path.parts}
    expected |= {f"pysynth/asp/{path.relative_to(root / 'asp').as_posix()}" for path in (root / "asp").rglob("*.lp")}
    expected |= {f"pysynth/templates/{path.relative_to(root / 'templates').as_posix()}"
                 for path in (root / "templates").rglob("*") if path.is_file()}
    assert expected - shipped == set()


def test_every_file_that_ships_is_tracked_by_git():
    # A file on disk but ignored by git (a package named build/ under a `build/` rule) is in every
    # developer's checkout and missing from every clean clone, so CI and users lose it.
    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run(["git", "ls-files", "pysynth", "asp", "templates"], capture_output=True, text=True, cwd=root)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    tracked = set(listed.stdout.split())
    on_disk = {path.relative_to(root).as_posix() for folder in ("pysynth", "asp", "templates")
               for path in (root / folder).rglob("*")
               if path.is_file() and "__pycache__" not in path.parts and not path.is_symlink()
               and not any(part.is_symlink() for part in path.parents if root in part.parents)}
    assert on_disk - tracked == set()
