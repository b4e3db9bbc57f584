"""A message that only makes sense with the chat's topic: "and on iOS?", "what about the refund?", "那iOS呢".

Players ask the next question of a topic the way they would ask a person, leaving out
what both already know. Read alone, "and on iOS?" is about the devices the game runs
on; after "my top-up didn't arrive" it is about a top-up made on an iPhone.
"""

from __future__ import annotations

import re

# Opening (or closing) words that continue the previous question.
_ELLIPTICAL = re.compile(
    r"^(?:and|also|but|so|or)\b"
    r"|^(?:what|how)\s+about\b"
    r"|^what\s+if\b"
    r"|^(?:same|ditto)\b"
    r"|\b(?:as\s+well|too)\s*[?？.!]*$"
    r"|^(?:那么?|还有|如果是?|要是|换成|改成)",
    re.IGNORECASE,
)
# "iOS呢", "退款呢": a few words and 呢. A longer question that ends in 呢 ("你们几点上班呢")
# says what it is about.
_SHORT_NE = re.compile(r"^[^\u4e00-\u9fff]*[\u4e00-\u9fff]{0,4}[^\u4e00-\u9fff]*呢\s*[?？。!！]*$")
# Longer than this, a message says enough to stand on its own ("and also my account was
# hacked yesterday, what do I do").
MAX_WORDS = 6
MAX_CHINESE_CHARS = 12
_CJK = re.compile(r"[\u4e00-\u9fff]")


def continues_the_question_before(text: str) -> bool:
    """ "and on iOS?", "那iOS呢": opening (or closing) words that go on from what was asked before."""
    return _ELLIPTICAL.search(text.strip()) is not None


def leans_on_the_topic(text: str) -> bool:
    """A short follow-up that leaves its subject out, to be read with the chat's topic."""
    text = text.strip()
    if not text or not (continues_the_question_before(text) or _SHORT_NE.match(text)):
        return False
    if len(_CJK.findall(text)) > MAX_CHINESE_CHARS:
        return False
    return len(_CJK.sub(" ", text).split()) <= MAX_WORDS
