"""The code's style is checked where every change is: in the test suite CI runs.

ruff (pinned in requirements-dev.txt) was only run by hand before commits, and a round's
last commits left `ruff check` and `ruff format --check` red on main for the next session."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["check", "format"])
def test_ruff_finds_nothing_to_change(command):
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
