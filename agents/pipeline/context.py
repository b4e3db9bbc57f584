"""Step 1: the conversation as the LLM should see it."""

from __future__ import annotations

from dataclasses import dataclass

from agents.providers import ChatMessage


@dataclass
class Context:
    history: list[ChatMessage]
    question: str
    language: str
    user_id: str = ""


def detect_language(text: str) -> str:
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    letters = sum(1 for ch in text if ch.isalpha())
    return "zh-hans" if letters and cjk / letters > 0.2 else "en"


def context_for_question(question: str, *, language: str = "") -> Context:
    return Context(history=[ChatMessage("user", question)], question=question, language=language or detect_language(question))


def context_for_conversation(conversation_id: int) -> Context:
    """Sync (ORM): run it in a thread. Flagged turns and internal notes are left out."""
    from chat.models import Conversation, Message

    conversation = Conversation.objects.select_related("player").get(pk=conversation_id)
    rows = (
        Message.objects.filter(conversation_id=conversation_id, internal=False)
        .exclude(sender=Message.Sender.SYSTEM)
        .order_by("seq")
        .values("id", "sender", "text", "status", "meta", "reply_to_id")
    )
    history: list[ChatMessage] = []
    flagged: set[int] = set()
    for row in rows:
        if row["meta"].get("flagged"):
            flagged.add(row["id"])
            continue
        if row["reply_to_id"] in flagged or not row["text"]:
            continue
        role = "user" if row["sender"] == Message.Sender.PLAYER else "assistant"
        history.append(ChatMessage(role, row["text"]))
    question = next((m.content for m in reversed(history) if m.role == "user"), "")
    # Answer in the language of the question; the page's language breaks ties.
    language = detect_language(question) if question.strip() else (conversation.language or "en")
    return Context(
        history=history,
        question=question,
        language=language,
        user_id=conversation.player.game_player_id or str(conversation.player.public_id),
    )
