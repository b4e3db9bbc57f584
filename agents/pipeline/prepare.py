"""Runs the steps before the provider, timing each one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from agents.pipeline import prompt, retrieval
from agents.pipeline.context import Context, context_for_conversation, context_for_question
from agents.providers import ChatRequest


@dataclass
class PreparedAnswer:
    context: Context
    request: ChatRequest
    sources: list[dict]
    timings_ms: dict[str, float] = field(default_factory=dict)


async def _prepare(context: Context, timings: dict[str, float]) -> PreparedAnswer:
    started = time.perf_counter()
    passages = await retrieval.passages_for(context)
    timings["retrieval"] = round((time.perf_counter() - started) * 1000, 2)
    started = time.perf_counter()
    request = prompt.build_request(context, passages)
    timings["prompt"] = round((time.perf_counter() - started) * 1000, 2)
    return PreparedAnswer(context, request, prompt.sources_for(passages), timings)


async def prepare_for_conversation(conversation_id: int) -> PreparedAnswer:
    started = time.perf_counter()
    # Not the thread-sensitive DB thread: that one is shared by every socket.
    context = await sync_to_async(context_for_conversation, thread_sensitive=False)(conversation_id)
    timings = {"context": round((time.perf_counter() - started) * 1000, 2)}
    return await _prepare(context, timings)


async def prepare_for_question(question: str, *, language: str = "") -> PreparedAnswer:
    return await _prepare(context_for_question(question, language=language), {})
