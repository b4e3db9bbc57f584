"""The words the chat admin shows for the codes a conversation stores, in the reader's language.

Intents and facts are named as the admin words them (agents.Intent, agents.Fact: a
manager can rename them at any time), handoff reasons and history events as the
dashboard names them; a code with no words shows as it is. The raw values stay in
the admin too, read-only, in a collapsed "Raw data" section (chat/admin.py).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from chat.handoff import REASON_LABELS
from chat.models import ConversationEvent


def _language() -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


def intent_words(code: str) -> str:
    """An intent's label in the reader's language; its code when the admin has no such intent."""
    from agents.models import Intent

    if not code:
        return ""
    intent = Intent.objects.filter(name=code).only("label_en", "label_zh").first()
    return (intent.label(_language()) if intent else "") or code


def fact_labels(names: list[str], language: str) -> dict[str, str]:
    """The facts' labels in `language`, as the admin names them. An id the player typed
    (claimed_player_id) is named as the player id, claimed: staff must not read it as the
    id the game vouches for."""
    from agents.facts import CLAIMED_PLAYER_ID, PLAYER_ID
    from agents.models import Fact

    rows = {f.name: f for f in Fact.objects.filter(name__in=[*names, PLAYER_ID])}
    labels = {name: rows[name].label(language) for name in names if name in rows}
    if CLAIMED_PLAYER_ID in names:
        player_id = rows[PLAYER_ID].label(language) if PLAYER_ID in rows else PLAYER_ID
        with translation.override(language):
            labels[CLAIMED_PLAYER_ID] = _("%(fact)s (given by the player, not verified)") % {"fact": player_id}
    return labels


def facts_in_words(facts: dict) -> list[tuple[str, str]]:
    """(label, value) for each fact, in the order stored, named as the admin names them."""
    labels = fact_labels(list(facts), _language())
    return [(labels.get(name) or name, _shown(value)) for name, value in facts.items()]


def fact_names_in_words(names: list[str]) -> list[str]:
    """The labels of facts named by code (what the bot still needed)."""
    return [label for label, _value in facts_in_words(dict.fromkeys(names, ""))]


def reason_words(code: str) -> str:
    """A handoff reason as the dashboard words it; its code when it has none."""
    return str(REASON_LABELS.get(code, code)) if code else ""


def event_words(code: str) -> str:
    """A history event's kind (a system line's `event`) in words; its code when unknown."""
    return str(ConversationEvent.Kind(code).label) if code in ConversationEvent.Kind.values else code


def language_words(code: str) -> str:
    """A language code ("zh-hans") as its name in the reader's language ("Simplified Chinese")."""
    if not code:
        return ""
    try:
        return str(translation.get_language_info(code)["name_translated"])
    except KeyError:
        return code


def event_details(data: dict) -> str:
    """A history event's data in words: whom a transfer went to; else its values."""
    if data.get("to_name"):
        return _("to %(name)s") % {"name": data["to_name"]}
    return ", ".join(f"{key}: {_shown(value)}" for key, value in data.items())


def understood(meta: dict) -> list[tuple[str, str]]:
    """What a message's meta says about it, as (what, words) rows: the intent, facts,
    sentiment, knowledge and tools behind a bot answer; a player message's intent and mood."""
    rows: list[tuple[str, str]] = []
    intent = meta.get("intent")
    if isinstance(intent, dict) and intent.get("name"):
        confidence = intent.get("confidence")
        words = intent_words(intent["name"])
        if isinstance(confidence, int | float):
            words = _("%(intent)s (%(percent)d%% sure)") % {"intent": words, "percent": round(confidence * 100)}
        rows.append((_("Intent"), words))
    elif isinstance(intent, str) and intent:
        rows.append((_("Intent"), intent_words(intent)))
    facts = meta.get("facts")
    if isinstance(facts, dict):
        values = facts.get("values")
        if isinstance(values, dict) and values:
            rows.append((_("Facts"), "; ".join(f"{label}: {value}" for label, value in facts_in_words(values))))
        if facts.get("missing"):
            rows.append((_("Facts still needed"), ", ".join(fact_names_in_words(list(facts["missing"])))))
    sentiment = meta.get("sentiment")
    if isinstance(sentiment, dict) and isinstance(sentiment.get("score"), int | float):
        rows.append((_("Sentiment"), f"{sentiment['score']:+.2f}"))
    sources = meta.get("sources")
    if sources:
        rows.append((_("Knowledge used"), "; ".join(str(s.get("title") or s.get("source_id")) for s in sources)))
    for call in meta.get("tool_calls") or []:
        outcome = _("succeeded") if call.get("ok") else _("failed: %(error)s") % {"error": call.get("error") or "?"}
        rows.append((_("Tool %(name)s") % {"name": call.get("tool")}, outcome))
    if meta.get("event"):
        rows.append((_("Event"), event_words(meta["event"])))
    return rows


def _shown(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
