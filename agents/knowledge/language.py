"""Telling Chinese from English text by its share of CJK characters."""

from __future__ import annotations

import re

CHINESE = "zh-hans"
ENGLISH = "en"

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")

# One Chinese character carries about as much as a short English word, so a
# modest share of CJK characters already means the text is Chinese.
_CJK_SHARE = 0.2


def detect_language(text: str) -> str:
    """Return "zh-hans", "en", or "" when the text has no letters at all."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if not cjk and not latin:
        return ""
    return CHINESE if cjk / (cjk + latin) >= _CJK_SHARE else ENGLISH
