"""A message as one line of plain text: the dashboard list's preview of a chat.

Answers are Markdown ("Here's what our help center says about **Refund policy**: … [1]"),
and the list shows text, not markup: an agent scanning thirty rows reads the words.
"""

from __future__ import annotations

import re

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](url) and images: the text
_CITATION = re.compile(r"\s?\[\d+\]")  # the answers' [1], [2] source marks
_MARKS = re.compile(r"(\*\*|__|`+|~~)|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")
_LINE_START = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_SPACE = re.compile(r"\s+")


def plain_preview(text: str, limit: int) -> str:
    """`text` without Markdown, on one line, cut to `limit` characters."""
    text = _LINK.sub(r"\1", text)
    text = _CITATION.sub("", text)
    text = _LINE_START.sub("", text)
    text = _MARKS.sub("", text)
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
