"""Runs the steps before the provider, top to bottom, timing each one.

One player message, once, before anything streams (never per delta):

1. context    the conversation as the bot sees it           pipeline/context.py
2. intent     what the player wants; sentiment: how they feel pipeline/intent.py, sentiment.py
3. facts      what the intent needs, from what they wrote    pipeline/facts.py
4. retrieval  knowledge-base passages, or a tool's result    pipeline/retrieval.py
5. prompt     the reply: a provider request or own words     pipeline/prompt.py
then the answer job (chat/streaming/jobs.py) runs
6. stream     the answer's text                              pipeline/stream.py
7. postprocess quick replies, forms, knowledge gaps          pipeline/postprocess.py

ORM and CPU work runs in worker threads (sync_to_async(thread_sensitive=False)),
never on the event loop and not on the DB thread every socket shares.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agents import services
from agents.pipeline import facts, intent, prompt, retrieval, sentiment
from agents.pipeline.context import Context, context_for_conversation, context_for_question
from agents.pipeline.prompt import Reply
from agents.providers import ChatRequest
from csbot.db import in_worker

T = TypeVar("T")


@dataclass
class PreparedAnswer:
    context: Context
    reply: Reply
    sources: list[dict]
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Why the bot answers as it does, stored with its message (Message.meta).
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def request(self) -> ChatRequest | None:
        return self.reply.request


class _Timer:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    async def step(self, name: str, work: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await work
        finally:
            self.timings[name] = round((time.perf_counter() - started) * 1000, 2)


async def _prepare(context: Context, timings: dict[str, float], *, store: bool = False) -> PreparedAnswer:
    timer = _Timer(timings)
    understood = await timer.step("intent", intent.detect(context))
    started = time.perf_counter()
    mood = sentiment.assess(context)
    timings["sentiment"] = round((time.perf_counter() - started) * 1000, 2)
    known = await timer.step("facts", in_worker(facts.collect, context, understood))
    if store and context.conversation_id:
        await timer.step("store", in_worker(_remember, context, understood, known, mood))
    knowledge = await timer.step("retrieval", retrieval.gather(context, understood, known, mood))
    reply = await timer.step("prompt", in_worker(prompt.compose, context, understood, known, mood, knowledge))
    meta: dict[str, Any] = {
        "intent": understood.as_meta(),
        "facts": known.as_meta(),
        "sentiment": mood.as_meta(),
        "reply": reply.kind,
        # The same list as reply.tool_calls: a tool the model calls while streaming is added to it.
        "tool_calls": reply.tool_calls,
    }
    if knowledge.tool_result:
        reply.tool_calls.append(knowledge.tool_result.as_meta())
    if reply.asked:
        meta["asked"] = reply.asked
    if reply.escalate:
        meta["escalate"] = reply.escalate
    if reply.knowledge_gap:
        meta["knowledge_gap"] = True
        meta["dont_know"] = True
    return PreparedAnswer(context, reply, prompt.sources_for(knowledge.passages), timings, meta)


def _remember(context: Context, understood, known, mood) -> None:
    services.understanding_save(
        conversation_id=context.conversation_id,
        message_id=context.message_id,
        intent=understood.name,
        facts=known.values,
        sentiment=mood.as_meta(),
    )


async def prepare_for_conversation(conversation_id: int) -> PreparedAnswer:
    started = time.perf_counter()
    # Not the thread-sensitive DB thread: that one is shared by every socket.
    context = await in_worker(context_for_conversation, conversation_id)
    timings = {"context": round((time.perf_counter() - started) * 1000, 2)}
    return await _prepare(context, timings, store=True)


async def prepare_for_question(question: str, *, language: str = "") -> PreparedAnswer:
    """A knowledge-base answer to one question, outside any conversation (the `ask` command)."""
    context = context_for_question(question, language=language)
    timings: dict[str, float] = {}
    passages = await _Timer(timings).step("retrieval", retrieval.passages_for(context))
    reply = Reply("answer", request=prompt.build_request(context, passages))
    return PreparedAnswer(context, reply, prompt.sources_for(passages), timings)
