"""Facts: taking them from what the player wrote, checking them, and asking for the rest.

A fact definition (agents.models.Fact) says how to recognise a value in free
text (extract_pattern, or a choice's synonyms) and how to check one (pattern
or choices). Pure functions here; the pipeline step agents/pipeline/facts.py
decides which facts a message needs and stores them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from agents.follow_ups import continues_the_question_before
from agents.not_helped import says_it_did_not_help
from agents.sentiment import UPSET, score_text

PLAYER_ID = "player_id"
# An id the player typed: theirs by their word only (the game token verifies one), kept for
# staff and never given to a tool.
CLAIMED_PLAYER_ID = "claimed_player_id"


@dataclass(frozen=True)
class FactSpec:
    """A Fact row as plain data (safe to share across threads and cache)."""

    name: str
    label_en: str
    label_zh: str
    question_en: str
    question_zh: str
    field_type: str = "text"
    pattern: str = ""
    extract_pattern: str = ""
    choices: dict[str, list[str]] = field(default_factory=dict)
    placeholder: str = ""

    @classmethod
    def from_model(cls, fact) -> FactSpec:
        return cls(
            name=fact.name,
            label_en=fact.label_en,
            label_zh=fact.label_zh,
            question_en=fact.question_en,
            question_zh=fact.question_zh,
            field_type=fact.field_type,
            pattern=fact.pattern,
            extract_pattern=fact.extract_pattern,
            choices=dict(fact.choices or {}),
            placeholder=fact.placeholder,
        )

    def label(self, language: str) -> str:
        return self.label_zh if language.startswith("zh") else self.label_en

    def question(self, language: str) -> str:
        return self.question_zh if language.startswith("zh") else self.question_en


def _normalise(text: str) -> str:
    # Full-width letters and digits (ＳＬ２０２５…, typed with a Chinese IME) become ASCII.
    return unicodedata.normalize("NFKC", text).strip()


def validate(spec: FactSpec, raw: str) -> str | None:
    """The value in its canonical form, or None when it is not a valid value."""
    value = _normalise(raw)
    if not value:
        return None
    if spec.choices:
        lowered = value.lower()
        for canonical, synonyms in spec.choices.items():
            if lowered == canonical.lower() or lowered in (s.lower() for s in synonyms):
                return canonical
        return None
    if spec.pattern:
        if not re.fullmatch(spec.pattern, value, flags=re.IGNORECASE):
            return None
        # Codes such as order numbers are stored as the pattern spells them: sl… -> SL….
        upper = value.upper()
        if not re.fullmatch(spec.pattern, value) and re.fullmatch(spec.pattern, upper):
            return upper
    return value


def extract(spec: FactSpec, text: str) -> str | None:
    """A valid value for the fact found inside a longer message, or None."""
    text = _normalise(text)
    if spec.choices:
        lowered = text.lower()
        for canonical, synonyms in spec.choices.items():
            for word in (canonical, *synonyms):
                if _contains_word(lowered, word.lower()):
                    return canonical
        return None
    if not spec.extract_pattern:
        return None
    for match in re.finditer(spec.extract_pattern, text, flags=re.IGNORECASE):
        # The group that took part: a pattern may offer one shape per alternative.
        raw = next((group for group in match.groups() if group is not None), match.group(0))
        value = validate(spec, without_filler(raw))
        if value:
            return value
    return None


# How a numbered choice is spelt with another number: "S1" as S and digits, "一服" as numerals and 服.
_DIGITS = re.compile(r"\d+")
_CJK_NUMERALS = "零一二两三四五六七八九十百"
_CJK_NUMBER = re.compile(f"[{_CJK_NUMERALS}]+")


def _shape(word: str) -> str | None:
    """A pattern for the word with any number in place of its own ("s1" -> s\\d+), or None for a
    word without one ("dawn")."""
    parts = re.split(rf"(\d+|[{_CJK_NUMERALS}]+)", word.lower())
    if len(parts) == 1:
        return None
    pattern = "".join(
        r"\d+" if _DIGITS.fullmatch(part) else f"[{_CJK_NUMERALS}]+" if _CJK_NUMBER.fullmatch(part) else re.escape(part)
        for part in parts
    )
    return rf"(?<![a-z0-9]){pattern}(?![a-z0-9])" if word.isascii() else pattern


def unknown_choice(spec: FactSpec, text: str) -> str | None:
    """A value spelt like the fact's numbered choices but none of them, as the player wrote it:
    "s7" or "7服" when the servers are S1 to S4 ("1服", "一区"). None when the text names a
    valid choice, or the choices have no numbers (a device)."""
    if not spec.choices or extract(spec, text):
        return None
    text = _normalise(text)
    words = {word for canonical, synonyms in spec.choices.items() for word in (canonical, *synonyms)}
    shapes = {shape for shape in map(_shape, words) if shape}
    found = (match for shape in shapes for match in re.finditer(shape, text.lower()))
    first = min(found, key=lambda match: match.start(), default=None)
    if first is None:
        return None
    # "samsung s10": the whole phone, so the player is told it is one (agents/answers.py).
    phone = _PHONE_MAKER.search(text[: first.start()])
    return text[phone.start() if phone else first.start() : first.end()]


# A phone's maker or line just before a model spelt like a server ("samsung s10", "三星S10",
# "galaxy s9"): the player named the phone they play on, not a server.
_PHONE = (
    r"(?<![a-z])(?:samsung|galaxy|xiaomi|redmi|huawei|honor|oppo|vivo|oneplus|pixel|realme|motorola|moto"
    r"|三星|小米|红米|华为|荣耀|一加)(?:\s*(?:galaxy|note))?\s*"
)
_PHONE_MAKER = re.compile(f"{_PHONE}$", re.IGNORECASE)


def numbered_choice(spec: FactSpec, text: str) -> str | None:
    """The one choice the text names by a spelling with its number ("S3", "server 3", "三服"),
    anywhere in it, or None: a word alone ("frost", "dawn") may mean anything outside a reply to
    the bot's question, and a text naming two ("from S1 to S3") does not say which is the player's."""
    lowered = _normalise(text).lower()
    named = {
        canonical
        for canonical, synonyms in spec.choices.items()
        for word in (canonical, *synonyms)
        if _shape(word) and _contains_word(lowered, word.lower())
    }
    return named.pop() if len(named) == 1 else None


def is_a_phone(value: str) -> bool:
    """ "samsung s10", as unknown_choice gives it: a phone, not a server."""
    return re.match(f"{_PHONE}\\S", _normalise(value), flags=re.IGNORECASE) is not None


def choice_list(spec: FactSpec, language: str) -> str:
    """The fact's choices, for a sentence: "S1, S2, S3 and S4", "S1、S2、S3、S4"."""
    choices = list(spec.choices)
    if language.startswith("zh"):
        return "、".join(choices)
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} and {choices[-1]}"


# A run of letters, digits and the marks codes are made of, between spaces, CJK or punctuation.
_CODE_LIKE = re.compile(r"[A-Za-z0-9_.#-]*\d[A-Za-z0-9_.#-]*")


def lone_value(spec: FactSpec, text: str) -> str | None:
    """In a reply to the question for this fact, a code standing alone among other words:
    the 55555555 of "it's 55555555 on server S2 I think", asked for the player id.

    Only for a fact whose pattern takes no plain word, so a loose one (an item's name) takes
    nothing this way."""
    if spec.choices or not spec.pattern or validate(spec, "word") is not None:
        return None
    for match in _CODE_LIKE.finditer(_normalise(text)):
        value = validate(spec, match.group(0).lstrip("#").rstrip(".-"))
        if value:
            return value
    return None


# A reply the bot takes whole as the one value it asked for is short: "S3", "the Frostfang Sword".
BARE_VALUE_MAX_WORDS = 6
BARE_VALUE_MAX_CJK = 15
_QUESTION_START = re.compile(
    r"^(?:how|what|why|when|where|which|who|can|could|do|does|did|is|are|will|would|should)\b"
    r"|怎么|怎样|如何|为什么|为啥|什么|哪|多久|能不能|可不可以|是不是|有没有",
    re.IGNORECASE,
)
_NON_ANSWER = re.compile(
    r"(?:ok(?:ay)?|thanks?|thank you|thx|yes|no|yeah|nope|hi|hello|i (?:don'?t|do not) know|not sure|no idea|dunno"
    r"|好的?|谢谢|嗯|是的?|不是|对|不知道|不清楚|忘了|你好)[\s.!。！~]*",
    re.IGNORECASE,
)


# What a player wraps a value in when they name it in words: a hedge before it ("I think it's",
# "应该是") and a particle or hedge after it ("吧", "的吧", "啊", "I think", "maybe"). Only at the
# ends, and 的 only before a particle: a name may hold any of these characters inside it.
_HEDGE = r"i\s+think|i\s+guess|i\s+believe|maybe|probably|perhaps"
_FILLER_BEFORE = re.compile(
    rf"^(?:(?:{_HEDGE})\b[\s,]*(?:(?:it'?s|it\s+(?:is|was))\b\s*)?|(?:我觉得|我记得|应该|好像|大概|可能|也许)(?:是|叫))",
    re.IGNORECASE,
)
_FILLER_AFTER = re.compile(
    rf"(?:[\s,，]*(?<![\w'])(?:{_HEDGE}|lol)|的?[吧啊呀呢哦嘛啦]+)[\s,，.。!！~～…]*$",
    re.IGNORECASE,
)


def without_filler(text: str) -> str:
    """The value the player named, without the hedges and particles around it: "霜牙之剑吧" is
    the 霜牙之剑, "Frostfang Sword I think" the Frostfang Sword. A text that is nothing but
    them is left as it is."""
    value = _FILLER_AFTER.sub("", _FILLER_BEFORE.sub("", text.strip())).strip()
    return value or text


# Words that make a 呢 at the end ask: a question word ("你们几点上班呢"), a person ("我的剑呢":
# where is it?), or a choice ("能不能退款呢").
_ASKS_WITH_NE = re.compile(r"几|多少|谁|啥|咋|怎|么|你|我|他|她|咱|(.)[不没]\1")


def is_a_question(text: str) -> bool:
    """ "How do I turn on two-step verification" is a new question, not an item's name.

    A 呢 after a bare name only rounds the reply off: "霜牙之剑呢" to "丢失的是哪件物品？" names
    the item. After words that ask, or that go on from what was asked before ("那iOS呢"), it asks."""
    text = _normalise(text)
    if text.endswith(("?", "？", "吗")) or _QUESTION_START.search(text):
        return True
    if text.endswith("呢"):
        return bool(_ASKS_WITH_NE.search(text)) or continues_the_question_before(text)
    return False


def bare_value(spec: FactSpec, text: str) -> str | None:
    """The whole reply as the value of the one fact the bot asked for ("Frostfang Sword"), or None.

    A question, a sentence, or a reply that names nothing ("ok", "不知道") is not a value,
    however loose the fact's pattern.
    """
    text = _normalise(text)
    words = len(text.split())
    cjk = sum(1 for char in text if "\u3400" <= char <= "\u9fff")
    if words > BARE_VALUE_MAX_WORDS or cjk > BARE_VALUE_MAX_CJK or is_a_question(text) or _NON_ANSWER.fullmatch(text):
        return None
    if score_text(text).score <= UPSET or says_it_did_not_help(text):
        # "快点", "this is useless": how the player feels, not an item's name; nor "试过了，还是不行".
        return None
    return validate(spec, without_filler(text))


def _contains_word(text: str, word: str) -> bool:
    if not word.isascii():
        if word[0].isdigit() or word[0] in _CJK_NUMERALS:
            # "2服" is not inside "12服", nor "二服" inside "十二服": another server.
            return re.search(rf"(?<![0-9{_CJK_NUMERALS}]){re.escape(word)}", text) is not None
        return word in text
    # "s1" must not match inside "ss10"; "pc" not inside "pcs"; nor "s3" the phone "samsung s3".
    return any(
        not _PHONE_MAKER.search(text[: found.start()])
        for found in re.finditer(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text)
    )


# A pattern of digits only, such as the player id's \d{5,12}: nothing but \d or [0-9], each
# once or repeated ({5,12}, +, *, ?).
_DIGITS_ONLY = re.compile(r"(?:(?:\\d|\[0-9\])(?:\{\d+(?:,\d*)?\}|[+*?])?)+")


def form_field(spec: FactSpec, language: str) -> dict:
    """The field of an inline form that asks for this fact (docs/protocol.md)."""
    out: dict = {"name": spec.name, "label": spec.label(language), "required": True}
    if spec.choices:
        out["type"] = "select"
        out["options"] = list(spec.choices)
    else:
        out["type"] = "text"
        if spec.pattern:
            out["pattern"] = spec.pattern
        if _DIGITS_ONLY.fullmatch(spec.pattern):
            # A phone shows its number pad, not the letters a digit is three taps away on.
            out["inputmode"] = "numeric"
    if spec.placeholder:
        out["placeholder"] = spec.placeholder
    return out


def check_form_values(specs: list[FactSpec], values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(valid values by fact, errors by fact) for a submitted inline form."""
    valid: dict[str, str] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        raw = values.get(spec.name, "")
        if not raw.strip():
            errors[spec.name] = "required"
            continue
        value = validate(spec, raw)
        if value is None:
            errors[spec.name] = "invalid"
        else:
            valid[spec.name] = value
    return valid, errors
