"""Step 6: the answer's text as a stream: the provider's, or the bot's own words.

An answer is prefix + body + suffix (agents/pipeline/prompt.py:Reply). The
body streams from the provider (through the retry helper, which checks before
every attempt that no human has taken the chat) or, for the bot's own words,
in small chunks at the offline provider's pace, so that every answer reaches
the player the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from asgiref.sync import sync_to_async
from django.conf import settings

from agents import tools
from agents.catalogue import get_catalogue
from agents.pipeline.prompt import Reply
from agents.providers import ChatRequest, Delta, Finish, FunctionCall, ProviderError, get_provider
from agents.providers.base import StreamItem
from agents.providers.local import estimate_tokens
from agents.providers.retry import stream_with_retry

CONTENT_FILTERED = "content_filter"


async def answer_stream(reply: Reply, *, before_attempt: Callable[[], Awaitable[None]]) -> AsyncIterator[StreamItem]:
    """Delta items, then one Finish (with the provider's usage when it spoke)."""
    finish = Finish()
    if reply.prefix:
        async for delta in _chunks(reply.prefix + ("\n\n" if reply.request or reply.body else "")):
            yield delta
    if reply.request is not None:
        called: FunctionCall | None = None
        async for item in stream_with_retry(get_provider(), reply.request, before_attempt=before_attempt):
            if isinstance(item, Finish):
                finish = item
            elif isinstance(item, FunctionCall):
                called = item
            else:
                yield item
        if called is not None:
            # The model asked for a tool (ERNIE function calling): call it, then let it answer with the result.
            follow_up = await _after_function_call(reply, called)
            async for item in stream_with_retry(get_provider(), follow_up, before_attempt=before_attempt):
                if isinstance(item, Finish):
                    finish = item
                elif isinstance(item, Delta):
                    yield item
        if finish.finish_reason == CONTENT_FILTERED:
            # The provider's safety filter stopped its own output mid-answer (ERNIE and the
            # OpenAI-compatible APIs say so only in the last chunk's finish_reason): what came
            # is cut short, and ending it as done would pass a half sentence off as the answer.
            raise ProviderError("the provider's content filter cut the answer short", code=CONTENT_FILTERED)
    else:
        await before_attempt()
        async for delta in _chunks(reply.body):
            yield delta
        finish = Finish(completion_tokens=estimate_tokens(reply.body))
    if reply.suffix:
        async for delta in _chunks("\n\n" + reply.suffix):
            yield delta
    yield finish


async def _after_function_call(reply: Reply, called: FunctionCall) -> ChatRequest:
    """Run the tool the model named, for this conversation's verified player only."""
    catalogue = await sync_to_async(get_catalogue, thread_sensitive=False)()
    spec = catalogue.tools.get(called.name)
    request = reply.request
    assert request is not None
    if spec is None:
        note = f"The tool {called.name!r} does not exist. Answer without it."
    else:
        facts = {**reply.facts, **tools.facts_from_function_call(spec, called.arguments, catalogue.facts)}
        result = await tools.acall(spec, facts=facts, verified_player_id=reply.verified_player_id)
        reply.tool_calls.append({**result.as_meta(), "requested_by": "llm"})
        data = json.dumps(result.data if result.ok else {"error": result.error}, ensure_ascii=False)
        note = f"Result of the internal tool {spec.name} for this player (JSON): {data}"
    return replace(request, system=f"{request.system}\n\n{note}", functions=[])


async def _chunks(text: str) -> AsyncIterator[Delta]:
    size = max(1, settings.LOCAL_PROVIDER_CHUNK_CHARS)
    for start in range(0, len(text), size):
        if start:
            await asyncio.sleep(settings.LOCAL_PROVIDER_CHUNK_DELAY)
        yield Delta(text[start : start + size])
