"""Writes the bot's brain makes: what it understood about a conversation.

Synchronous; the pipeline runs them in a worker thread.
"""

from __future__ import annotations

from csbot.fastsql import update_and_merge_json, update_by_pk


def understanding_save(
    *,
    conversation_id: int,
    message_id: int | None,
    intent: str,
    facts: dict[str, str],
    sentiment: dict,
) -> None:
    """Store the intent, facts and sentiment on the conversation and the player's message.

    Staff see Conversation.intent/facts/sentiment; analytics reads the player
    message's meta["sentiment"] ({"score", "level", "escalate"}) and meta["intent"].
    An unclear message keeps the conversation's previous intent.
    """
    from chat.models import Conversation, Message

    # Two writes: the conversation's current picture, and what was read from this one
    # message, merged into its meta by the database. Every answer runs them: SQL built
    # once, not per call, and one round trip on PostgreSQL (csbot/fastsql.py).
    fields = {"facts": facts, "sentiment": sentiment["score"]}
    if intent:
        fields["intent"] = intent[:64]
    if message_id is None:
        update_by_pk(Conversation, conversation_id, **fields)
        return
    patch = {"sentiment": sentiment, **({"intent": intent} if intent else {})}
    update_and_merge_json(
        Conversation, conversation_id, fields, into=Message, into_pk=message_id, field_name="meta", patch=patch
    )


class FormInvalid(Exception):
    """A submitted inline form was refused; `fields` maps each bad field to its label."""

    def __init__(self, fields: dict[str, str], *, unknown: bool = False) -> None:
        super().__init__(", ".join(fields) or "unknown form")
        self.fields = fields
        self.unknown = unknown


def form_submission_check(*, conversation_id: int, form_id: str, values: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The chat line a submitted form stands for, and its checked values.

    The form must be one the bot showed in this conversation (the bot message's
    meta["form"]); each value is checked like a fact (agents/facts.py). Raises
    FormInvalid naming the fields to correct.
    """
    from agents import facts as fact_rules
    from agents.catalogue import get_catalogue
    from chat.models import Message

    message_id = form_id.removeprefix("facts-")
    form = None
    if message_id.isdigit():
        meta = (
            Message.objects.filter(pk=int(message_id), conversation_id=conversation_id, sender=Message.Sender.BOT)
            .values_list("meta", flat=True)
            .first()
        )
        form = (meta or {}).get("form")
    if not form or form.get("form_id") != form_id:
        raise FormInvalid({}, unknown=True)
    catalogue = get_catalogue()
    fields = [field for field in form["fields"] if field["name"] in catalogue.facts]
    specs = [catalogue.facts[field["name"]] for field in fields]
    valid, errors = fact_rules.check_form_values(specs, values)
    if errors:
        raise FormInvalid({field["name"]: field["label"] for field in fields if field["name"] in errors})
    text = "\n".join(f"{field['label']}: {valid[field['name']]}" for field in fields)
    return text, valid
