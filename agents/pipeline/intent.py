"""Step 2: what the player wants (an intent from the admin), or "" when it is not clear.

In order of trust:
1. a quick reply the player clicked names its intent;
2. a submitted form, an answer that supplies facts the bot just asked for, or a
   follow-up that leaves its subject out ("and on iOS?", agents/follow_ups.py)
   continues the intent the bot was working on;
3. the LLM, when one other than `local` is configured (settings.INTENT_LLM:
   always, or only when the offline classifier is unsure), names it; the
   offline classifier (agents/classifier.py) is the fallback when it fails;
4. the offline classifier; when it is unsure, the one topic that collects a
   fact the message names ("我的霜牙之剑丢了": a lost item).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from agents import facts as fact_rules
from agents.catalogue import Catalogue, IntentSpec, get_catalogue
from agents.classifier import Classification
from agents.facts import PLAYER_ID
from agents.follow_ups import leans_on_the_topic
from agents.not_helped import says_it_did_not_help
from agents.pipeline.context import Context
from agents.pipeline.facts import only_volunteered_details
from agents.providers import ChatMessage, ChatRequest, Delta, ProviderError, SafetyBlocked, get_provider
from chat.handoff import asks_how_to_reach_support
from csbot.db import in_worker

log = logging.getLogger(__name__)


@dataclass
class IntentResult:
    name: str  # "" when unclear
    confidence: float
    source: str  # quick_reply, form, follow_up, topic, named_fact, llm, classifier, none
    # The likeliest intents, best first: the quick replies of a vague question.
    likely: list[str] = field(default_factory=list)
    spec: IntentSpec | None = None

    def as_meta(self) -> dict:
        confidence = round(self.confidence, 3)
        return {"name": self.name, "confidence": confidence, "source": self.source, "likely": self.likely}


async def detect(context: Context) -> IntentResult:
    """The intent of the context's question (async: may ask the LLM)."""
    result, ask_with = await in_worker(detect_offline, context)
    if ask_with is not None:
        result = await with_llm(context, result, ask_with)
    return result


def detect_offline(context: Context) -> tuple[IntentResult, Catalogue | None]:
    """Sync: the intent without the LLM, and the catalogue to ask the LLM with when
    settings.INTENT_LLM wants its opinion too (None: don't ask)."""
    catalogue = get_catalogue()
    # At most once per message: the follow-up check and the fresh guess read the same result.
    classified = functools.cache(lambda: catalogue.classifier.classify(context.question))
    result = _from_the_conversation(context, catalogue, classified)
    ask = False
    if result is None:
        result = _classify(_as_asked(classified(), catalogue, context.question))
        if not result.name:
            result = _from_a_named_fact(context.question, catalogue, result) or result
        ask = _llm_wanted(result) and bool(context.question.strip())
    result.spec = catalogue.intents.get(result.name)
    return result, (catalogue.menu() if ask else None)


async def with_llm(context: Context, offline: IntentResult, catalogue: Catalogue) -> IntentResult:
    """The LLM names the intent; the offline classifier's result stands when it fails."""
    named = await _ask_llm(context, catalogue)
    if named is None or named in _handoffs_asked_about(catalogue, context.question):
        return offline
    return IntentResult(named, 1.0 if named else 0.0, "llm", offline.likely, catalogue.intents.get(named))


def _from_the_conversation(
    context: Context, catalogue: Catalogue, classified: Callable[[], Classification]
) -> IntentResult | None:
    chosen = context.message_meta.get("intent")
    if isinstance(chosen, str) and chosen in catalogue.intents:
        return IntentResult(chosen, 1.0, "quick_reply")
    topic = catalogue.intents.get(context.topic)
    if topic is not None and topic.action != "handoff" and says_it_did_not_help(context.question):
        # "still doesn't work" is about what the chat was on: its "work" is no Monthly Card.
        return IntentResult(topic.name, 1.0, "topic")
    pending = (context.last_bot_meta.get("intent") or {}).get("name", "")
    missing = (context.last_bot_meta.get("facts") or {}).get("missing", ())
    if pending not in catalogue.intents and context.last_bot_meta.get("asked") and context.topic in catalogue.intents:
        # "ok" or "hurry up" names no topic, but the bot's reply to it asked for the details
        # still missing again ("send me the server when you have it"): "S3" next answers that.
        pending, missing = context.topic, context.last_bot_meta["asked"]
    if pending not in catalogue.intents:
        # "那苹果的呢" after an answer about no topic ("谷歌商店买的" found a FAQ): the topic
        # the chat was on before it.
        return _on_the_topic(context, catalogue, context.topic, classified)
    if context.message_meta.get("form_id"):
        return IntentResult(pending, 1.0, "form")
    needed = [catalogue.facts[n] for n in missing if n in catalogue.facts]
    # A detail the bot asked for, named or standing alone ("it's 55555555 on server S2"), or one
    # that is none of its choices ("s7" for the server): an answer still, to be told so.
    if any(
        fact_rules.extract(spec, context.question)
        or fact_rules.lone_value(spec, context.question)
        or fact_rules.unknown_choice(spec, context.question)
        for spec in needed
    ):
        return IntentResult(pending, 1.0, "follow_up")
    if only_volunteered_details(context.question):
        # "我的玩家ID是10086" after the top-up answer asked the player to sign in: noted for the
        # top-up, not read as reporting a player for its 玩家.
        return IntentResult(pending, 1.0, "follow_up")
    elsewhere = classified().intent
    if elsewhere and elsewhere != pending:
        return None
    if any(fact_rules.bare_value(spec, context.question) for spec in needed):
        # A fact was still missing and this reads as its value ("the Frostfang Sword", "霜牙之剑"),
        # also when the classifier reads the topic itself in it ("sword": a lost item), and
        # before a follow-up on the topic: "霜牙之剑呢" is as short as "退款呢".
        return IntentResult(pending, 1.0, "follow_up")
    if on_the_topic := _on_the_topic(context, catalogue, pending, classified):
        return on_the_topic
    # A corrected value of a fact the topic used ("not found" -> "my order is SF-…"): the
    # same topic again, looked up with the new value, not a fresh guess at what it is about.
    if any(fact_rules.extract(spec, context.question) for spec in catalogue.intents[pending].facts):
        return IntentResult(pending, 1.0, "follow_up")
    return None


def _on_the_topic(
    context: Context, catalogue: Catalogue, topic: str, classified: Callable[[], Classification]
) -> IntentResult | None:
    """A follow-up that leaves its subject out ("and on iOS?", "那iOS呢" after a top-up that did
    not arrive) stays on the topic, unless it names another one ("what about the refund?").
    Asking for a person is how the player wants help, not what the chat is about."""
    spec = catalogue.intents.get(topic)
    if spec is None or spec.action == "handoff" or not leans_on_the_topic(context.question):
        return None
    elsewhere = classified().intent
    if elsewhere and elsewhere != topic:
        return None
    return IntentResult(topic, 1.0, "topic")


def _from_a_named_fact(question: str, catalogue: Catalogue, unsure: IntentResult) -> IntentResult | None:
    """The one topic that collects a fact this message names, when the classifier is unsure.

    "我的霜牙之剑丢了" names a lost item, though no example phrase has 霜牙之剑 or 丢. Only
    facts found by their own extract pattern count (a choice word such as "iPhone" says
    too little, a player id nothing), and only when they point at a single topic (an
    order number is both a missing top-up's and a refund's).
    """
    topics = {
        spec.name
        for spec in catalogue.intents.values()
        for fact in spec.facts
        if fact.extract_pattern and not fact.choices and fact.name != PLAYER_ID and fact_rules.extract(fact, question)
    }
    if len(topics) != 1:
        return None
    return IntentResult(topics.pop(), 1.0, "named_fact", unsure.likely)


def _handoffs_asked_about(catalogue: Catalogue, question: str) -> set[str]:
    """The handoff intents, when the question asks how to reach support ("有没有人工客服的电话",
    "is there a phone number for a real person?"): its person is what it asks about, and the
    help center answers it, with a person offered (agents/pipeline/prompt.py)."""
    if not asks_how_to_reach_support(question):
        return set()
    return {spec.name for spec in catalogue.intents.values() if spec.action == "handoff"}


def _as_asked(classified: Classification, catalogue: Catalogue, question: str) -> Classification:
    """The classification, without a request for a person the question does not make."""
    handoffs = _handoffs_asked_about(catalogue, question)
    return classified.without(handoffs) if handoffs else classified


def _classify(classified: Classification) -> IntentResult:
    likely = [guess.intent for guess in classified.ranked if guess.score > 0][:3]
    source = "classifier" if classified.intent else "none"
    return IntentResult(classified.intent, classified.confidence, source, likely)


def _llm_wanted(offline: IntentResult) -> bool:
    """settings.INTENT_LLM: "always", "unsure" (when the classifier has no clear answer) or "off"."""
    if settings.LLM_PROVIDER == "local" or settings.INTENT_LLM == "off":
        return False
    return settings.INTENT_LLM == "always" or not offline.name


# An intent's name is a slug (letters, digits, "_" and "-"), spelt as the admin wrote it.
_NAME = re.compile(r"[A-Za-z0-9_-]+")


async def _ask_llm(context: Context, catalogue: Catalogue) -> str | None:
    """The intent the LLM names ("" for none of them), or None when it failed: use the classifier."""
    menu = "\n".join(f"- {spec.name}: {spec.description}" for spec in catalogue.intents.values())
    request = ChatRequest(
        system=(
            "You sort customer-service messages of an online game by intent. Reply with exactly one "
            f"intent name from this list, or `none` if none fits:\n{menu}"
        ),
        messages=[ChatMessage("user", f"Message: {context.question}\nIntent:")],
        language=context.language,
        temperature=0.01,
    )
    try:
        text = await asyncio.wait_for(_collect(request), settings.INTENT_LLM_TIMEOUT)
    except SafetyBlocked:
        raise  # the player's input itself was flagged: the answer job handles it like an answer
    except (TimeoutError, ProviderError) as exc:
        log.info("LLM intent detection failed (%s); using the offline classifier", exc)
        return None
    return _named_in(text, catalogue)


def _named_in(reply: str, catalogue: Catalogue) -> str | None:
    """The first intent the reply names, in the catalogue's own spelling ("vip-support" is
    the admin's "VIP-Support": models answer in any case); "" for `none`, None for neither."""
    by_lowercase = {name.lower(): name for name in catalogue.intents}
    for word in _NAME.findall(reply):
        word = word.strip("-")
        named = word if word in catalogue.intents else by_lowercase.get(word.lower())
        if named:
            return named
        if word.lower() == "none":
            return ""
    return None


async def _collect(request: ChatRequest) -> str:
    parts = []
    async for item in get_provider().stream(request):
        if isinstance(item, Delta):
            parts.append(item.text)
    return "".join(parts)
