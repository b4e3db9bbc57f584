"""README's settings table names every variable csbot/settings.py reads from the
environment, so an operator never has to read the settings to find one."""

from __future__ import annotations

import ast
import re

from tests.servers import ROOT


def variables_settings_reads() -> set[str]:
    """The first argument of every env_str / env_bool / env_int / env_float / env_list call."""
    tree = ast.parse((ROOT / "csbot" / "settings.py").read_text())
    return {
        call.args[0].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id.startswith("env_")
        and call.args
        and isinstance(call.args[0], ast.Constant)
    }


def variables_in_readme_table() -> set[str]:
    """The `NAME`s in the first column of README's `| variable | default | meaning |` table."""
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])}


def test_the_parse_finds_the_variables():
    assert {"SECRET_KEY", "DEBUG", "DATABASE_URL", "LOG_LEVEL", "TRUST_X_FORWARDED_PROTO"} <= variables_settings_reads()


def test_every_variable_settings_reads_has_a_row_in_the_readme():
    missing = variables_settings_reads() - variables_in_readme_table()
    assert not missing, f"README's settings table lacks: {', '.join(sorted(missing))}"
