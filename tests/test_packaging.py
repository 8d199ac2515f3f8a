"""The installed package carries its encodings and templates, found without the checkout."""

from __future__ import annotations

import subprocess
import sys
import tempfile


def test_encodings_and_templates_are_found_through_the_installed_package():
    probe = (
        "from pysynth.resources import asp_root, templates_root;"
        "print(asp_root().joinpath('main.lp').is_file(), any(templates_root().iterdir()))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tempfile.gettempdir())
    assert done.stdout.split() == ["True", "True"], done.stderr
