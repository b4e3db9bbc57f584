"""Step 3: the facts the intent needs, taken from anything the player wrote.

Known facts (Conversation.facts) are kept; missing ones are looked for in every
player message of the conversation, newest first, and in a submitted form. A
reply to a question about facts may be just the value of one ("S3", "the Frostfang
Sword", "霜牙之剑" to 物品名称、服务器, "霜牙之剑，三服" or "霜牙之剑在三服" beside the server), unless it names
another's in its words or only says how the player feels ("快点"). The verified player id
always fills `player_id`; an id the player typed is kept apart as `claimed_player_id` and no
tool uses it, but the bot does not ask for an id the player gave.

The bot asks for what is still missing, once: a fact it asked for before is
never asked again (the answer goes on without it, and a human can follow up),
unless the player named a value that is none of its choices ("s7" for the server),
or has just given some of the details asked for: the bot then says which are still
needed (pipeline/prompt.py), so the player knows what is left to give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents import facts as rules
from agents.catalogue import get_catalogue
from agents.facts import CLAIMED_PLAYER_ID, PLAYER_ID, FactSpec
from agents.knowledge.tokenize import tokenize
from agents.pipeline.context import Context

if TYPE_CHECKING:  # the intent step asks this module whether a message only gives details
    from agents.pipeline.intent import IntentResult

# Unmistakable values, worth keeping whatever the intent: staff see them.
VOLUNTEERED = (PLAYER_ID, "order_no")


@dataclass
class FactsResult:
    values: dict[str, str]
    # Taken from this message (or its form): shown to staff as new.
    new: dict[str, str] = field(default_factory=dict)
    missing: list[FactSpec] = field(default_factory=list)
    # Missing and never asked before, or named as none of its choices: the bot asks for these now.
    to_ask: list[FactSpec] = field(default_factory=list)
    # What this message named that is none of a missing fact's choices ("s7" for the server), by fact.
    unknown: dict[str, str] = field(default_factory=dict)

    def as_meta(self) -> dict:
        meta = {
            "values": self.values,
            "new": self.new,
            "missing": [spec.name for spec in self.missing],
        }
        if self.unknown:
            meta["unknown"] = self.unknown
        return meta


def collect(context: Context, intent: IntentResult, *, unasked: bool = False) -> FactsResult:
    """Sync (reads the catalogue): run it in a worker thread.

    `unasked`: the message is one the bot does not answer (a person holds the chat, or it waits
    in the queue): the values in it that say what they are are kept too (`standing_alone`)."""
    catalogue = get_catalogue()
    values = dict(context.facts)
    new: dict[str, str] = {}
    if context.verified_player_id and values.get(PLAYER_ID) != context.verified_player_id:
        values[PLAYER_ID] = new[PLAYER_ID] = context.verified_player_id
    form_values = context.message_meta.get("form_values") or {}
    for name, value in form_values.items():
        if name in catalogue.facts and name != PLAYER_ID and values.get(name) != value:
            values[name] = new[name] = value
    wanted = list(intent.spec.facts) if intent.spec else []
    # Codes the player volunteers are kept even when this intent does not need them.
    volunteered = [catalogue.facts[n] for n in VOLUNTEERED if n in catalogue.facts]
    open_facts = open_facts_of(context)
    for spec in {s.name: s for s in [*wanted, *volunteered]}.values():
        key = CLAIMED_PLAYER_ID if spec.name == PLAYER_ID else spec.name
        if spec.name == PLAYER_ID and context.verified_player_id:
            continue
        # What this message says wins over what an earlier one said ("no, it's SL…02").
        value = _from_this_message(spec, context, open_facts)
        if value is None and not values.get(key):
            value = _from_earlier_messages(spec, context)
        if value is not None and values.get(key) != value:
            values[key] = new[key] = value
    for name, value in (standing_alone(context.question) if unasked else {}).items():
        if name == PLAYER_ID and context.verified_player_id:
            continue
        key = CLAIMED_PLAYER_ID if name == PLAYER_ID else name
        if values.get(key) != value:
            values[key] = new[key] = value
    missing = [spec for spec in wanted if not given(values, spec.name)]
    # "s7" to "Which server do you play on?" when the servers are S1 to S4: the player answered,
    # and is told it is no server and asked again, rather than their answer passing unseen. Only
    # in reply to the question: in "crashes on my samsung s10" it is a phone.
    unknown = {
        spec.name: value
        for spec in missing
        if spec.name in open_facts and (value := rules.unknown_choice(spec, context.question))
    }
    to_ask = [spec for spec in missing if spec.name not in context.asked or spec.name in unknown]
    return FactsResult(values, new, missing, to_ask, unknown)


def standing_alone(question: str) -> dict[str, str]:
    """The values a message names that need no question to be read as them, by fact.

    An agent's "Which server?" is her own words, not the bot's request (context.py leaves what a
    person asked out), so a reply to her is read without knowing what it answers: a server
    written as one ("S3", "I'm on server 3", "三服"; not "frost", a word anything may hold), or a
    reply that is wholly one code ("10086", "SL2025061201") or one choice ("iPhone"). Only for
    messages the bot does not answer; no LLM, a few regular expressions per fact."""
    catalogue = get_catalogue()
    found: dict[str, str] = {}
    for spec in catalogue.facts.values():
        if spec.choices and (value := rules.numbered_choice(spec, question)):
            found[spec.name] = value
    whole = {
        spec.name: value
        for spec in catalogue.facts.values()
        if _strict(spec)
        and (value := rules.bare_value(spec, question))
        # A code has a digit: "today" alone may answer "when did it happen?" as well as "when did you buy it?".
        and (spec.choices or any(char.isdigit() for char in value))
    }
    if len(whole) == 1:
        found.update(whole)
    return found


def given(values: dict[str, str], name: str) -> bool:
    """The player gave this fact. An id they typed counts: asking for it again would not make
    it verified (only the game token does, and no tool takes a claimed id), and staff read it
    as claimed."""
    return bool(values.get(name) or (name == PLAYER_ID and values.get(CLAIMED_PLAYER_ID)))


def open_facts_of(context: Context) -> list[str]:
    """The facts the bot's previous answer was still missing: this message may be one of them."""
    return list((context.last_bot_meta.get("facts") or {}).get("missing", ()))


def _from_this_message(spec: FactSpec, context: Context, open_facts: list[str]) -> str | None:
    value = rules.extract(spec, context.question)
    if value is None and spec.name in open_facts:
        # Asked for it: a code standing alone is it ("it's 55555555 on server S2").
        value = rules.lone_value(spec, context.question)
    if value is None and spec.name in open_facts:
        # The whole reply may be the value ("S3", "Frostfang Sword"), also when the bot asked for
        # more than this one ("霜牙之剑" to "物品名称、服务器"), or what the reply says beside the
        # others' values set apart ("霜牙之剑，三服"); not a reply that names another of them in
        # its words ("在二服").
        rest = _without_the_others_values(spec, context.question, open_facts)
        if not _names_another(spec, rest, open_facts):
            value = rules.bare_value(spec, rest)
    return value


# The parts of a reply set apart by commas or spaces: "霜牙之剑，三服", "Frostfang Sword, S3".
_PART = re.compile(r"[^，,、;；\s]+")
_SEPARATORS = " \t\n，,、;；"


def _without_the_others_values(spec: FactSpec, reply: str, open_facts: list[str]) -> str:
    """The reply without its parts that are each wholly the value of another fact asked for, by
    a strict check (a server, an id; not an item's name, which any word is): "霜牙之剑，三服" is
    霜牙之剑 beside the server."""
    catalogue = get_catalogue()
    others = [
        catalogue.facts[name]
        for name in open_facts
        if name != spec.name and name in catalogue.facts and _strict(catalogue.facts[name])
    ]
    reply = _without_linked_values(reply, others)
    parts = [part for part in _PART.finditer(reply) if any(rules.validate(other, part.group()) for other in others)]
    if not parts:
        return reply
    kept, start = [], 0
    for part in parts:
        kept.append(reply[start : part.start()])
        start = part.end()
    kept.append(reply[start:])
    return " ".join(piece.strip(_SEPARATORS) for piece in kept if piece.strip(_SEPARATORS))


# A value tied to the words before it by a link ("霜牙之剑在三服", "Frostfang Sword on S3"), or to
# the words after it by 的 ("三服的霜牙之剑"): one phrase, no comma, so no part of it is the value.
_LINK = r"(?:\s*(?:是在|在)\s*|\s+(?:on|in|at|from)\s+(?:the\s+)?)"
# What comes before the link says who, not what: "我在三服" names the server alone.
_WHO = re.compile(r"(?:我|我们|俺|咱|咱们|人|i|i'?m|i\s+am|we|we'?re|me|it|it'?s|it\s+(?:is|was)|they'?re)", re.I)
_CLAUSE = re.compile(r"[^，,、;；]+")


def _without_linked_values(reply: str, others: list[FactSpec]) -> str:
    """The reply without a choice of another fact that a clause of it names with a link to the
    rest of the clause: "霜牙之剑在三服" is 霜牙之剑 beside the server, as "霜牙之剑，三服" is."""
    words = sorted(
        {word for other in others for c, synonyms in other.choices.items() for word in (c, *synonyms)},
        key=len,
        reverse=True,
    )
    if not words:
        return reply
    value = "|".join(re.escape(word) for word in words)
    after = re.compile(rf"(?P<rest>.+?){_LINK}(?:server\s*|服务器\s*)?(?:{value})(?![a-z0-9])[的里上]?", re.I)
    before = re.compile(rf"(?<![a-z0-9])(?:{value})的(?P<rest>.+)", re.I)

    def without(clause: re.Match) -> str:
        text = clause.group()
        linked = after.fullmatch(text.strip()) or before.fullmatch(text.strip())
        if linked is None or _WHO.fullmatch(linked.group("rest").strip()):
            return text
        return linked.group("rest").strip()

    return _CLAUSE.sub(without, reply)


def _strict(spec: FactSpec) -> bool:
    """The fact's values are choices or codes: a plain word is none of them."""
    return bool(spec.choices) or (bool(spec.pattern) and rules.validate(spec, "word") is None)


def _names_another(spec: FactSpec, question: str, open_facts: list[str]) -> bool:
    """The reply names a value (or a non-value, "s7") of another fact the bot asked for."""
    catalogue = get_catalogue()
    others = [catalogue.facts[name] for name in open_facts if name != spec.name and name in catalogue.facts]
    return any(
        rules.extract(other, question) or rules.lone_value(other, question) or rules.unknown_choice(other, question)
        for other in others
    )


def _from_earlier_messages(spec: FactSpec, context: Context) -> str | None:
    for text in reversed(context.player_texts[:-1]):
        value = rules.extract(spec, text)
        if value:
            return value
    return None


# What a player wraps details in: the facts' names and hedges ("server S2 I think", "应该是二服").
_DETAIL_WRAPPING = frozenset(
    tokenize(
        "player id uid number no order server device it's it is my i'm on think guess maybe probably pretty sure"
        " 玩家 角色 号码 订单号 服务器 区服 设备 应该 大概 好像 可能 吧"
    )
)


def words_besides_the_details(question: str, new: dict[str, str]) -> int:
    """How many words of the message are neither a detail it gave (in any of its spellings,
    "三服" for S3) nor the words around one."""
    catalogue = get_catalogue()
    spelled: set[str] = set(_DETAIL_WRAPPING)
    for name, value in new.items():
        spec = catalogue.facts.get(PLAYER_ID if name == CLAIMED_PLAYER_ID else name)
        synonyms = spec.choices.get(value, []) if spec else []
        spelled.update(tokenize(" ".join([str(value), *synonyms])))
    return sum(1 for word in tokenize(question) if word not in spelled)


def only_volunteered_details(question: str) -> bool:
    """The message gives a player id or an order number and nothing else: "我的玩家ID是10086",
    "uid 10086". Whatever topic its words would suggest (玩家: reporting a player), it is a detail
    of the chat's."""
    catalogue = get_catalogue()
    named = {
        name: value
        for name in VOLUNTEERED
        if name in catalogue.facts and (value := rules.extract(catalogue.facts[name], question))
    }
    return bool(named) and words_besides_the_details(question, named) == 0
