"""A question about how something works, not about the player's own case: "封号申诉要多久",
"how long does a ban appeal take", "how do I appeal".

A topic with a tool (the ban lookup) looks up the player's own case: "why am I banned",
"is my account banned". A player who asks how long an appeal takes, or how to appeal, wants
the help center's answer; the lookup would only tell a player who is not banned "no ban
record", and a banned one what they already know.
"""

from __future__ import annotations

import re

# A step players go through, whose own length or way the help center describes ("how long does
# the suspension last" or "封号多久能解" is about the player's own ban: the lookup's end date).
_PROCESS = re.compile(r"\bappeal|\breview|申诉|审核", re.IGNORECASE)
_HOW_LONG_OR_HOW_TO = re.compile(
    r"\bhow\s+(?:long|many\s+(?:days|hours)|much\s+time)\b|\bhow\s+(?:do|can|should|to)\b"
    r"|\b(?:process|steps|procedure|take)\b"
    r"|多久|多长时间|几天|怎么|怎样|如何|流程|步骤|方法|渠道|在哪",
    re.IGNORECASE,
)


def asks_about_the_process(text: str) -> bool:
    """The question asks how long an appeal (or a review) takes or how to go about it."""
    return bool(_PROCESS.search(text) and _HOW_LONG_OR_HOW_TO.search(text))
