"""Step 1: the conversation as the LLM should see it."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.providers import ChatMessage


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


def detect_language(text: str) -> str:
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    letters = sum(1 for ch in text if ch.isalpha())
    return "zh-hans" if letters and cjk / letters > 0.2 else "en"


def context_for_question(question: str, *, language: str = "") -> Context:
    language = language or detect_language(question)
    return Context(history=[ChatMessage("user", question)], question=question, language=language)


def context_for_conversation(conversation_id: int) -> Context:
    """Sync (ORM): run it in a thread. Flagged turns and internal notes are left out."""
    from chat.models import Conversation, Message

    # Values, not model instances: this runs for every answer.
    conversation = (
        Conversation.objects.filter(pk=conversation_id)
        .values("language", "facts", "player__game_player_id", "player__public_id")
        .get()
    )
    rows = (
        Message.objects.filter(conversation_id=conversation_id, internal=False)
        .exclude(sender=Message.Sender.SYSTEM)
        .order_by("seq")
        .values("id", "sender", "text", "status", "error", "meta", "reply_to_id")
    )
    history: list[ChatMessage] = []
    flagged: set[int] = set()
    players: list[dict] = []
    last_bot: dict = {}
    asked: set[str] = set()
    for row in rows:
        if row["sender"] == Message.Sender.BOT and row["status"] != Message.Status.STREAMING:
            last_bot = {"status": row["status"], "error": row["error"], "meta": row["meta"]}
            asked.update(row["meta"].get("asked", ()))
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
    # Answer in the language of the question; the page's language breaks ties.
    language = detect_language(question) if question.strip() else (conversation["language"] or "en")
    if len(players) > 1 and len(question.split()) <= 3:
        # A bare value ("S3", "SL2025061202", "Frostfang Sword") does not change the chat's language.
        language = detect_language(players[-2]["text"])
    current = players[-1] if players else {}
    game_player_id = conversation["player__game_player_id"]
    earlier = [row["meta"].get("sentiment") for row in players[:-1]]
    return Context(
        history=history,
        question=question,
        language=language,
        user_id=game_player_id or str(conversation["player__public_id"]),
        conversation_id=conversation_id,
        message_id=current.get("id"),
        message_meta=current.get("meta", {}),
        verified_player_id=game_player_id or None,
        facts=dict(conversation["facts"] or {}),
        player_texts=[row["text"] for row in players],
        earlier_sentiments=[float(s) for s in earlier if isinstance(s, int | float)],
        last_bot_meta=last_bot.get("meta", {}),
        last_bot=last_bot,
        asked=asked,
    )
