"""The overview's key figures as a manager reads them: a card's words, tags and spacing gone."""

from __future__ import annotations

import re

_BEFORE = re.compile(r'<small class="an-before">.*?</small>', re.S)


def card(html: str, testid: str, *, before: bool = False) -> str:
    """The text of the card `testid`; with `before`, its line on the days before the range too
    (tests/analytics/test_against_before.py reads that line, the others the figure itself)."""
    found = re.search(rf'data-testid="{testid}">(.*?)</div>', html, re.S).group(1)
    if not before:
        found = _BEFORE.sub("", found)
    return " ".join(re.sub(r"<[^>]+>", " ", found).split())
