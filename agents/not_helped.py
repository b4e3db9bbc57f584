"""A message that only says the bot's answer did not help: "still doesn't work", "还是不行".

Searched as a question, its words find anything: "work" is in "How does the Monthly Card
work?", 不行 in nothing at all. The player has read the answer, tried it, and is still stuck;
what they need is the next step (what the bot still needs to look further) or a person.
"""

from __future__ import annotations

import re
import unicodedata

_NOT = r"(?:does\s*n[o']?t|doesnt|did\s*n[o']?t|didnt|wo\s*n'?t|is\s*n'?t|isnt|not|never|no)"
_STUCK = re.compile(
    rf"\b(?:still\s+)?{_NOT}\s+(?:really\s+)?(?:work|working|worked|help|helping|helped|helpful|fix|fixed|solve|solved)\b"
    r"|\bstill\s+(?:broken|the\s+same|stuck|happening|not\s+working|nothing)\b|\bsame\s+(?:problem|issue|thing)\b"
    # What was to arrive (a top-up, a mail, a reward) still has not: "还是没有", "还没到账"; not a
    # bare "还没有", which may be "not yet" (checked the mailbox?).
    rf"|\bstill\s+(?:{_NOT}|have\s*n'?t|havent|has\s*n'?t|hasnt)\s+(?:got(?:ten)?|get|received?|arrived?|come|came)\b"
    r"|\bstill\s+missing\b|(?:还是|仍然|依然|一直|还)没有?(?:收到|到账?|来|发|找到)|(?:还是|仍然|依然|一直)没有?"
    r"|还是(?:收不到|找不到)"
    r"|\b(?:tried|did)\s+(?:that|this|it|all\s+(?:of\s+)?(?:that|this|those|these)|everything|those|these|them)\b"
    r"|还是(?:不行|不可以|没用|一样|老样子|没好|没解决|进不去|登不上)|(?:没|不)(?:管用|好使|起作用)|没(?:有)?(?:用|效果|解决)"
    r"|试过了|都试了|都试过|不行啊|不行呀|还不行",
    re.IGNORECASE,
)
# The words a player wraps it in: "nope, still doesn't work", "I tried that already, didn't help".
_WRAPPING = re.compile(
    r"\b(?:nope|no|yes|yeah|ok|okay|i|i'?ve|it|that|this|still|already|but|and|sorry|again|the|steps?"
    r"|answer|your|advice|ugh|hmm|lol|tried|all|of|those|these|yet)\b|[我都它这那个了啊呀吧的是但你说方法试过也]"
    r"|到现在|现在|等了(?:半天|好久|很久)",
    re.IGNORECASE,
)


def says_it_did_not_help(text: str) -> bool:
    """The message says the answer did not work for the player, and asks nothing else."""
    text = unicodedata.normalize("NFKC", text).strip()
    found = _STUCK.search(text)
    if found is None:
        return False
    rest = _WRAPPING.sub(" ", _STUCK.sub(" ", text))
    return not re.search(r"[\w\u4e00-\u9fff]", rest)
