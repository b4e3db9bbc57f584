"""How upset a player sounds: a score in [-1, 1] from a small zh/en lexicon, offline.

Negative words add up, intensifiers ("really", "太") and shouting ("!!!", CAPS)
make them count more, a negation right before a positive word flips it. Saying
they asked support before ("I've asked THREE TIMES", "我都问了三遍了") counts as upset
(asking a friend does not). Shouting with no such word ("WHERE IS MY TOP UP???") is
upset too, and a threat to complain in public ("I'll leave a 1 star review") counts
like the words that need staff. The score is what analytics stores (Message.meta["sentiment"]); the level says what
the bot does about it:

- calm:   answer as usual;
- upset:  acknowledge, apologise where it fits, give a concrete next step. This
          is every frustrated message, however strongly put ("this is ridiculous",
          "垃圾游戏", CAPS): the bot soothes and helps first. A human is called when
          the player stays upset: UPSET_STREAK upset messages in a row, or a message
          at or below settings.ESCALATE_SENTIMENT_AT while one of their last few
          was upset already (the help did not help);
- angry:  at or below ESCALATE_SENTIMENT_AT with words that need staff (abuse of
          people, accusations of fraud, threats to complain, sue or charge back):
          call a human now.

The verdict goes with the player's message (`Mood.as_meta()["escalate"]`), and
chat/handoff.py follows it after the answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

UPSET = -0.3
# This many upset (or worse) player messages in a row escalate to a human.
UPSET_STREAK = 3

# word: weight (negative = upset). Chinese entries are matched as substrings.
# fmt: off
_ZH = {
    "垃圾": -0.8, "骗子": -0.9, "骗钱": -0.9, "坑钱": -0.7, "黑心": -0.7, "恶心": -0.6, "滚": -0.7,
    "妈的": -1.0, "他妈": -1.0, "操": -0.9, "傻逼": -1.0, "sb": -0.8, "tm": -0.6, "尼玛": -0.9, "去死": -1.0,
    "投诉": -0.6, "举报你们": -0.7, "消协": -0.8, "工商": -0.6, "律师": -0.7, "起诉": -0.8,
    "退游": -0.6, "卸载": -0.4, "曝光": -0.7, "差评": -0.6, "气死": -0.8, "生气": -0.5, "愤怒": -0.7,
    "烦死": -0.5, "烦": -0.3, "无语": -0.35, "失望": -0.4, "太差": -0.6, "很差": -0.5, "离谱": -0.5,
    "坑": -0.4, "急": -0.25, "着急": -0.35, "怎么还": -0.2, "还没": -0.15, "到底": -0.25, "一直": -0.1,
    "破游戏": -0.5, "傻": -0.6, "好慢": -0.35, "太慢": -0.35, "怎么这么慢": -0.4, "等了好久": -0.35,
    "等了半天": -0.35, "等了很久": -0.35,
    "不满意": -0.5, "没用": -0.5, "废物": -0.8, "智障": -0.8, "欺骗": -0.8, "忍无可忍": -0.9,
    "谢谢": 0.4, "感谢": 0.5, "太好了": 0.6, "好的": 0.2, "满意": 0.5, "不错": 0.4, "厉害": 0.4, "解决了": 0.5,
}
_EN = {
    "scam": -0.9, "scammers": -0.9, "fraud": -0.9, "garbage": -0.8, "trash": -0.7, "useless": -0.6,
    "terrible": -0.7, "awful": -0.7, "horrible": -0.7, "worst": -0.8, "ridiculous": -0.6, "pathetic": -0.8,
    "angry": -0.6, "furious": -0.9, "frustrating": -0.5, "annoying": -0.5, "disappointing": -0.5,
    "pissed": -0.8, "annoyed": -0.5, "frustrated": -0.5, "upset": -0.5, "bullshit": -0.8,
    "disappointed": -0.5, "unacceptable": -0.7, "sick": -0.4, "tired": -0.3, "hate": -0.7, "stupid": -0.7,
    "wtf": -0.8, "sucks": -0.6, "fuck": -1.0, "fucking": -1.0, "shit": -0.8, "damn": -0.5, "crap": -0.6, "idiots": -0.9,
    "lawyer": -0.8, "sue": -0.8, "chargeback": -0.8, "complaint": -0.5, "complain": -0.5, "quit": -0.4,
    "uninstall": -0.4, "still": -0.1, "again": -0.1, "waiting": -0.1, "robbed": -0.8, "stole": -0.4,
    "thanks": 0.4, "thank": 0.4, "great": 0.5, "good": 0.3, "awesome": 0.6, "perfect": 0.6, "love": 0.5,
    "helpful": 0.5, "solved": 0.5, "appreciate": 0.5, "uninstalling": -0.4, "quitting": -0.4,
}
# fmt: on
# Threats to complain in public, as phrases: "star" alone is a game word (Star Crystals,
# a level's stars), "report" too (reporting a cheater).
_PUBLIC_COMPLAINT = re.compile(
    r"\breport(?:ing)?\s+(?:you|this\s+company|your\s+company)\b|\bbad\s+reviews?\b|\bone-star\b"
    r"|\b(?:1|one)[\s-]star\s+(?:review|rating)s?\b"
    r"|\b(?:leave|leaving|give|giving|rate|rating)\s+(?:it\s+|you\s+|this(?:\s+game)?\s+)?(?:a\s+)?(?:1|one)[\s-]?stars?\b"
)
PUBLIC_COMPLAINT_WEIGHT = -0.7
# Impatience, as phrases: "forever", "slow" and "hurry" alone are game words too ("is the mount
# forever?", "a slow debuff", "the Hurry buff"). "this is taking forever", "hurry up".
# "快点" alone, or asked for ("能不能快点啊"): in a question it is the game's "faster" ("怎么快点升级").
_IMPATIENT = re.compile(
    r"\btak(?:es|ing)\s+(?:so\s+)?(?:forever|ages|so\s+long)\b|^\W*hurry(?:\s+up)?\b|\bhurry\s+up\b"
    r"|\bso\s+slow\W*$|\bstill\s+waiting\b|\bwhy\s+(?:is\s+)?(?:this|it)\s+(?:taking\s+)?so\s+long\b"
    r"|^\W*(?:come\s+on|c'?mon)\W*$|^\W*(?:be\s+)?(?:quick(?:er)?|faster)(?:\s+please)?\W*$"
    r"|^\W*(?:你们?)?(?:能不能|可不可以|能|麻烦|请)?(?:快点|快一点|快些|赶紧|赶快)(?:儿)?"
    r"(?:吧|啊|呀|的|好不好|行不行|可以吗|好吗|行吗|处理|回复|回我)*\W*$"
    r"|^\W*(?:还要|要)等多久(?:啊|呀)?\W*$"
)
IMPATIENT_WEIGHT = -0.35
# A player who says they have asked before ("I asked for a refund 3 times already", "I've
# asked THREE TIMES", "nothing. again.", "我都问了三遍了") is upset, however calm the words:
# the help so far has not helped. Only asking, telling or contacting counts: "I refined my
# sword 3 times" and "how many times can I reroll?" are game talk, and so is doing a thing
# "for the third time" or "over and over" ("I died to the boss over and over"), unless it
# is the asking ("I'm asking for the third time", "for the third time, where is my top-up").
_SAYING = r"(?:ask|asking|asked|say|saying|said|tell|telling|told|explain|explaining|repeat|repeating)"
_REPEATING = re.compile(
    r"\b(?:asked|told|said|explained|contacted|messaged|wrote|emailed|requested|reported)\b[^.!?。！？]{0,40}?"
    r"\b(?:(?:\d+|two|three|four|five|six|ten|several|multiple|many|so\s+many|a\s+dozen)\s+times|twice)\b"
    rf"|(?:^|[.!?,;:]\s*|\b{_SAYING}\s+(?:you\s+|this\s+|it\s+|that\s+)?)"
    r"for\s+the\s+(?:\d+(?:st|nd|rd|th)|second|third|fourth|fifth|tenth|umpteenth|hundredth)\s+time\b"
    r"|\bhow\s+many\s+times\s+(?:do|must|should|will)\s+i\s+(?:have\s+to\s+)?(?:ask|say|tell|explain|repeat)\b"
    r"|\bi(?:'ve|\s+have)\s+already\s+(?:asked|told|said|explained)\b|\b(?:asked|told\s+you)\s+(?:this\s+)?already\b"
    rf"|\b{_SAYING}\b[^.!?]{{0,20}}?\b(?:again\s+and\s+again|over\s+and\s+over)\b"
    r"|\b(?:nothing|no\s+answer|same\s+answer)\W+again\b"
    r"|(?:问|说|讲|提|反馈|联系|催|申请|发)了?(?:你们|客服)?(?:好|都)?(?:\d+|[一两二三四五六七八九十几好多]+)(?:遍|次)"
    r"|(?:都|已经)(?:问|说|讲)(?:过|了)(?:好几|很多|多少|无数)(?:遍|次)|第(?:\d+|[二三四五六七八九十几]+)次(?:问|说|找|联系|反馈)"
    r"|又是(?:这个|同样|一样)的?(?:回答|回复|答案)",
    re.IGNORECASE,
)
# Whom the player asked, when it was not support: "I asked my friend 2 times", "my friend
# asked 3 times", "my guildmate told me three times", "问朋友问了三遍", "跟会长说了好几次".
# Looked for in the words just before and after the match, where a Chinese or an English
# sentence names them.
_SOMEONE_ELSE = re.compile(
    r"\b(?:my|his|her|their|our|a|the)\s+(?:\w+\s+)?(?:friends?|bro(?:ther)?|sis(?:ter)?|mom|mum|mother|dad|father"
    r"|parents?|wife|husband|girlfriend|boyfriend|gf|bf|kids?|son|daughter|cousin|roommate|classmates?"
    r"|guild(?:mates?|\s+(?:leader|master|members?))?|clan(?:mates?)?|team(?:mates?)?|party|npcs?|quest\s*giver"
    r"|merchant|vendor|seller|buyer|players?|mates?)\b"
    r"|\b(?:him|everyone|everybody|people|other\s+players)\b|\b(?:world|guild|global|team|party)\s+chat\b"
    # Someone who told the player: "he told me three times".
    r"|\b(?:told|asked|messaged|contacted|emailed)\s+me\b"
    r"|朋友|好友|队友|兄弟|哥们|会长|公会|商人|爸|妈|老婆|老公|女朋友|男朋友|家人|同学|别人|其他玩家|npc",
    re.IGNORECASE,
)
# How far around a match the one asked is looked for: "问朋友" before it, "my friend" in it,
# "already asked my brother" after it.
_ASKED_WHOM_CHARS = 20
_CLAUSE_END = re.compile(r"[.!?,;。！？，；]")
REPEATING_WEIGHT = -0.5


def repeats_themselves(text: str) -> re.Match | None:
    """Where the player says they have asked or said it before, to support, if they do."""
    text = unicodedata.normalize("NFKC", text)
    for found in _REPEATING.finditer(text):
        # Whom one reported or what one requested is no one asked: "I reported this player 3 times".
        reported = found.group(0).lower().startswith(("reported", "requested"))
        if reported or not _SOMEONE_ELSE.search(_clause_around(text, found)):
            return found
    return None


def _clause_around(text: str, found: re.Match) -> str:
    """The match and the few characters either side of it within its clause."""
    before = _CLAUSE_END.split(text[max(0, found.start() - _ASKED_WHOM_CHARS) : found.start()])[-1]
    after = _CLAUSE_END.split(text[found.end() : found.end() + _ASKED_WHOM_CHARS])[0]
    return before + found.group(0) + after


def hurries(text: str) -> bool:
    """The player hurries the bot along ("hurry up", "快点啊")."""
    return _IMPATIENT.search(unicodedata.normalize("NFKC", text).lower()) is not None


# The game itself as what the player is angry at: "什么破游戏", "垃圾游戏", "FUCK THIS GAME".
_AT_THE_GAME = re.compile(r"游戏|\bgames?\b", re.IGNORECASE)


def blames_the_game(text: str) -> bool:
    """The player's anger names the game ("what a garbage game"), not the wait or the team."""
    return _AT_THE_GAME.search(unicodedata.normalize("NFKC", text)) is not None


# Swearing with its letters starred out ("f***", "f**king", "sh*t") says as much as spelled out.
_MASKED_SWEARING = re.compile(r"\bf[*#@$]+(?:k|ck|ing|kin[g']?|cking)?(?![\w*#@$])|\bsh[*#@$]+t\b")
MASKED_SWEARING_WEIGHT = -0.8
# Words that make anger a case for staff, not only a mood to soothe: abuse of people,
# fraud, threats to complain, go public, sue or charge back (and _PUBLIC_COMPLAINT).
# Frustration with the game ("ridiculous", "garbage", "垃圾", "退游") is not among them,
# however strong.
_NEEDS_STAFF = frozenset({
    "骗子", "骗钱", "欺骗", "傻逼", "sb", "去死", "智障", "废物", "投诉", "举报你们", "消协", "工商", "律师",
    "起诉", "曝光", "差评", "忍无可忍",
    "scam", "scammers", "fraud", "idiots", "lawyer", "sue", "chargeback", "complaint", "complain",
    "robbed", "stole",
})  # fmt: skip
# Shouting with no word of the lexicon ("WHERE IS MY TOP UP???") is upset too, if only just.
SHOUTED = -0.35
# Of the player's messages before this one, how many are looked at for earlier upset.
RECENT = 3
_ZH_LONGEST_FIRST = sorted((w for w in _ZH if not w.isascii()), key=len, reverse=True)
_INTENSIFIERS_ZH = ("太", "真", "非常", "特别", "超级", "简直", "到底")
_INTENSIFIERS_EN = frozenset({"so", "very", "really", "extremely", "totally", "absolutely", "fucking"})
_NEGATIONS_EN = frozenset({"not", "no", "never", "don't", "dont", "isn't", "wasn't"})
_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class Sentiment:
    score: float
    level: str  # calm, upset, angry, extreme
    words: tuple[str, ...] = ()

    def as_meta(self) -> dict:
        return {"score": self.score, "level": self.level, "words": list(self.words)}


def score_text(text: str) -> Sentiment:
    """The sentiment of one message."""
    raw = unicodedata.normalize("NFKC", text)
    lowered = raw.lower()
    total = 0.0
    found: list[str] = []
    rest = lowered
    # Longest words first, each match blanked out: 烦死 is not also 烦.
    for word in _ZH_LONGEST_FIRST:
        if word not in rest:
            continue
        weight = _ZH[word]
        boost = 1.3 if weight < 0 and any(i + word in rest for i in _INTENSIFIERS_ZH) else 1.0
        if weight > 0 and ("不" + word in rest or "没" + word in rest):
            weight = -weight
        total += weight * boost
        found.append(word)
        rest = rest.replace(word, " ")
    words = _WORD.findall(lowered)
    for position, word in enumerate(words):
        weight = _EN.get(word) if word in _EN else (_ZH.get(word) if word.isascii() and word in _ZH else None)
        if weight is None:
            continue
        previous = words[position - 1] if position else ""
        if weight > 0 and previous in _NEGATIONS_EN:
            weight = -weight
        elif weight < 0 and previous in _INTENSIFIERS_EN:
            weight *= 1.3
        total += weight
        found.append(word)
    for match in _MASKED_SWEARING.finditer(lowered):
        total += MASKED_SWEARING_WEIGHT
        found.append(match.group(0))
    if repeated := repeats_themselves(lowered):
        total += REPEATING_WEIGHT
        found.append(repeated.group(0))
    if impatient := _IMPATIENT.search(lowered):
        total += IMPATIENT_WEIGHT
        found.append(impatient.group(0))
    complains_in_public = False
    for match in _PUBLIC_COMPLAINT.finditer(lowered):
        total += PUBLIC_COMPLAINT_WEIGHT
        found.append(match.group(0))
        complains_in_public = True
    shouting = _shouting(raw)
    if total < 0:
        total *= shouting
    if total <= 0 and shouting > 1:
        total = min(total, SHOUTED)
    score = max(-1.0, min(1.0, total))
    needs_staff = complains_in_public or any(word in _NEEDS_STAFF for word in found)
    return Sentiment(round(score, 3), level_of(score, needs_staff=needs_staff), tuple(found))


def _shouting(text: str) -> float:
    factor = 1.0
    if re.search(r"[!！]{2,}|[?？]{3,}", text):
        factor += 0.25
    letters = [c for c in text if c.isascii() and c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        factor += 0.25
    return factor


def level_of(score: float, *, needs_staff: bool) -> str:
    """calm, upset or angry: what the bot does about a message, and how staff read it (the case
    panel). Angry needs words that need staff (abuse, fraud, threats) as well as the score."""
    if score <= escalation_threshold() and needs_staff:
        return "angry"
    if score <= UPSET:
        return "upset"
    return "calm"


def escalation_threshold() -> float:
    from django.conf import settings

    return getattr(settings, "ESCALATE_SENTIMENT_AT", -0.6)


def should_escalate(current: Sentiment, earlier_scores: list[float]) -> bool:
    """Anger that needs staff now; strong frustration again after an upset message among
    the last RECENT (the bot's help did not help); or UPSET_STREAK upset messages in a row
    (the current one last). A first outburst of frustration alone gets soothed and helped."""
    if current.level == "angry":
        return True
    if current.score > UPSET:
        return False
    if current.score <= escalation_threshold() and any(score <= UPSET for score in earlier_scores[-RECENT:]):
        return True
    streak = 1
    for score in reversed(earlier_scores):
        if score > UPSET:
            break
        streak += 1
    return streak >= UPSET_STREAK
