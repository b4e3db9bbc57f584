"""Step 1: the conversation as the LLM should see it."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.db import connection

from agents.providers import ChatMessage
from csbot.fastsql import column, json_value, select_rows, table


@dataclass
class Context:
    history: list[ChatMessage]
    question: str
    language: str
    user_id: str = ""
    conversation_id: int | None = None
    # The player message being answered, and its meta (a quick reply's intent, a form's values).
    message_id: int | None = None
    message_meta: dict = field(default_factory=dict)
    # The game token's player id: the only one tools ever use (player scope).
    verified_player_id: str | None = None
    facts: dict = field(default_factory=dict)
    # Every player message of the conversation, oldest first: facts come from any of them.
    player_texts: list[str] = field(default_factory=list)
    # Sentiment scores of the earlier player messages, oldest first.
    earlier_sentiments: list[float] = field(default_factory=list)
    # The bot's previous answer's meta (the intent it was working on, what it asked for).
    last_bot_meta: dict = field(default_factory=dict)
    # The previous finished bot answer's status, error and meta ({} when there is none).
    last_bot: dict = field(default_factory=dict)
    # Facts the bot has asked for in this conversation: it never asks twice.
    asked: set[str] = field(default_factory=set)
    # What the bot's latest answer asked for, while this message is the player's first
    # since it; [] once they wrote something else in between (asked for a person, wrote
    # to the queue): an "ok" now answers that, not the request (pipeline/prompt.py).
    awaiting: list[str] = field(default_factory=list)
    # The intent of the bot's latest answer that had one: what the chat is about.
    topic: str = ""


def detect_language(text: str) -> str:
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    letters = sum(1 for ch in text if ch.isalpha())
    return "zh-hans" if letters and cjk / letters > 0.2 else "en"


def _is_bare_value(text: str) -> bool:
    """A value typed on its own ("S3", "SL2025061202", "Frostfang Sword"): no Chinese, a few words.

    Chinese has no spaces between words, so a whole Chinese question ("兑换码怎么用")
    would count as one word: any Han character makes the text a question in Chinese.
    """
    return not any("\u4e00" <= ch <= "\u9fff" for ch in text) and len(text.split()) <= 3


def answer_language(player_texts: list[str], page_language: str) -> str:
    """The language of the player's latest question; a bare value keeps the chat's language.

    The language of the bot's answers, and of the system lines after them (chat/selectors.py).

    The language of their last message that was more than a bare value, else the
    page's (the language the player chose), else English.
    """
    question = player_texts[-1] if player_texts else ""
    if not question.strip():
        return page_language or "en"
    if not _is_bare_value(question) or len(player_texts) == 1:
        return detect_language(question)
    for earlier in reversed(player_texts[:-1]):
        if not _is_bare_value(earlier):
            return detect_language(earlier)
    return page_language or detect_language(question)


def context_for_question(question: str, *, language: str = "") -> Context:
    language = language or detect_language(question)
    return Context(history=[ChatMessage("user", question)], question=question, language=language)


def context_for_conversation(conversation_id: int, *, known: dict | None = None) -> Context:
    """Sync (database): run it in a thread. Flagged turns and internal notes are left out.

    `known`: the conversation's columns the caller read already (`language`, `facts`,
    `game_player_id`, `public_id`): the call that stores a question and its answer's
    row has them from its own statements, and a SELECT fewer is 0.3 ms of CPU less.
    """
    from chat.models import Message
    from chat.staff_selectors import sentiment_score

    conversation, rows = _read(conversation_id, known)
    history: list[ChatMessage] = []
    flagged: set[int] = set()
    players: list[dict] = []
    last_bot: dict = {}
    asked: set[str] = set()
    topic = ""
    written_since = 0  # player messages since the bot's latest answer, this one included
    for row in rows:
        if row["sender"] == Message.Sender.BOT and row["status"] != Message.Status.STREAMING:
            last_bot = {"status": row["status"], "error": row["error"], "meta": row["meta"]}
            asked.update(row["meta"].get("asked", ()))
            topic = (row["meta"].get("intent") or {}).get("name") or topic
            written_since = 0
        elif row["sender"] == Message.Sender.AGENT:
            # A person has spoken since: what the bot was asking for is no longer pending.
            last_bot = {}
        elif row["sender"] == Message.Sender.PLAYER:
            written_since += 1
        if row["meta"].get("flagged"):
            flagged.add(row["id"])
            continue
        if row["reply_to_id"] in flagged or not row["text"]:
            continue
        role = "user" if row["sender"] == Message.Sender.PLAYER else "assistant"
        history.append(ChatMessage(role, row["text"]))
        if role == "user":
            players.append(row)
    question = next((m.content for m in reversed(history) if m.role == "user"), "")
    language = answer_language([row["text"] for row in players], conversation["language"])
    current = players[-1] if players else {}
    game_player_id = conversation["game_player_id"]
    # Stored as {"score": …, "level": …} (agents/pipeline/sentiment.py), or a bare number.
    earlier = [sentiment_score(row["meta"]) for row in players[:-1]]
    return Context(
        history=history,
        question=question,
        language=language,
        user_id=game_player_id or str(conversation["public_id"]),
        conversation_id=conversation_id,
        message_id=current.get("id"),
        message_meta=current.get("meta", {}),
        verified_player_id=game_player_id or None,
        facts=dict(conversation["facts"] or {}),
        player_texts=[row["text"] for row in players],
        earlier_sentiments=[score for score in earlier if score is not None],
        last_bot_meta=last_bot.get("meta", {}),
        last_bot=last_bot,
        asked=asked,
        awaiting=list(last_bot.get("meta", {}).get("asked", ())) if written_since <= 1 else [],
        topic=topic,
    )


_MESSAGE_COLUMNS = ("id", "sender", "text", "status", "error", "meta", "reply_to")


@functools.cache
def _sql(vendor: str) -> tuple[str, str]:
    """The two reads, built once (every answer runs them; csbot/fastsql.py says why)."""
    from chat.models import Conversation, Message, Player

    c, p, m = (table(model) for model in (Conversation, Player, Message))
    conversation = (
        f"SELECT {c}.{column(Conversation, 'language')}, {c}.{column(Conversation, 'facts')}, "
        f"{p}.{column(Player, 'game_player_id')}, {p}.{column(Player, 'public_id')} "
        f"FROM {c} JOIN {p} ON {p}.{column(Player, 'id')} = {c}.{column(Conversation, 'player')} "
        f"WHERE {c}.{column(Conversation, 'id')} = %s"
    )
    messages = (
        f"SELECT {', '.join(column(Message, name) for name in _MESSAGE_COLUMNS)} FROM {m} "
        f"WHERE {column(Message, 'conversation')} = %s AND {column(Message, 'internal')} = %s "
        f"AND {column(Message, 'sender')} <> %s ORDER BY {column(Message, 'seq')}"
    )
    return conversation, messages


def _read(conversation_id: int, known: dict | None) -> tuple[dict, list[dict]]:
    from chat.models import Conversation, Player

    conversation_sql, messages_sql = _sql(connection.vendor)
    if known is not None:
        return known, _read_messages(messages_sql, conversation_id)
    found = select_rows(conversation_sql, [conversation_id])
    if not found:
        raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
    language, facts, game_player_id, public_id = found[0]
    conversation = {
        "language": language,
        "facts": json_value(facts),
        "game_player_id": game_player_id,
        # SQLite keeps a UUID as 32 hex digits: the field reads it back as Django does.
        "public_id": Player._meta.get_field("public_id").to_python(public_id),
    }
    return conversation, _read_messages(messages_sql, conversation_id)


def _read_messages(messages_sql: str, conversation_id: int) -> list[dict]:
    from chat.models import Message

    rows = []
    for values in select_rows(messages_sql, [conversation_id, False, Message.Sender.SYSTEM]):
        row = dict(zip(_MESSAGE_COLUMNS, values, strict=True))
        row["meta"] = json_value(row["meta"])
        row["reply_to_id"] = row.pop("reply_to")
        rows.append(row)
    return rows
