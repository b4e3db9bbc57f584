"""Step 3: the system prompt and the request handed to the provider."""

from __future__ import annotations

from django.conf import settings

from agents.pipeline.context import Context
from agents.providers import ChatRequest, Passage

SYSTEM_PROMPT = {
    "zh-hans": (
        "你是游戏《星落传说》的官方客服助手。只根据下面提供的知识库资料回答玩家的问题，"
        "在引用资料的句子后用 [编号] 标注来源。资料里没有答案时，坦白说不知道，并建议转人工客服。"
        "语气友好、简洁，使用简体中文。"
    ),
    "en": (
        "You are the official support assistant of the game Starfall Legends. Answer only from the "
        "knowledge-base passages below and cite them with [n] after the sentences that use them. "
        "When the passages do not hold the answer, say plainly that you do not know and offer a human agent. "
        "Be friendly and concise, and answer in English."
    ),
}


def render_passages(passages: list[Passage]) -> str:
    return "\n\n".join(f"[{n}] {p.title}\n{p.text}" for n, p in enumerate(passages, start=1))


def build_request(context: Context, passages: list[Passage]) -> ChatRequest:
    lang = "zh-hans" if context.language.startswith("zh") else "en"
    system = SYSTEM_PROMPT[lang]
    if passages:
        heading = "知识库资料：" if lang == "zh-hans" else "Knowledge-base passages:"
        system = f"{system}\n\n{heading}\n{render_passages(passages)}"
    return ChatRequest(
        system=system,
        messages=list(context.history),
        passages=passages,
        user_id=context.user_id,
        language=lang,
        temperature=settings.LLM_TEMPERATURE,
    )


def sources_for(passages: list[Passage]) -> list[dict]:
    """What the player sees under the answer, numbered like the [n] markers."""
    return [{"n": n, "title": p.title, "source_id": p.source_id} for n, p in enumerate(passages, start=1)]
