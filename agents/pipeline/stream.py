"""Step 6: the answer's text as a stream: the provider's, or the bot's own words.

An answer is prefix + body + suffix (agents/pipeline/prompt.py:Reply). The
body streams from the provider (through the retry helper, which checks before
every attempt that no human has taken the chat) or, for the bot's own words,
in small chunks at the offline provider's pace, so that every answer reaches
the player the same way.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from asgiref.sync import sync_to_async
from django.conf import settings

from agents import tools
from agents.catalogue import Catalogue, get_catalogue
from agents.pipeline.prompt import Reply
from agents.providers import ChatMessage, ChatRequest, Delta, Finish, FunctionCall, ProviderError, get_provider
from agents.providers.base import StreamItem, ToolOutcome, ToolRound
from agents.providers.local import estimate_tokens
from agents.providers.retry import stream_with_retry

CONTENT_FILTERED = "content_filter"
# How many times a model that reached its output limit is asked to go on with its answer.
MAX_CONTINUATIONS = 2
# What it is asked with: the SDK's TruncatedContinuePrompt, and its English.
CONTINUE = {"zh-hans": "继续", "en": "Continue"}
# The most tools one answer calls: a model asking for more is told the rest were not called,
# rather than have the game's systems queried a dozen times for one question.
MAX_TOOL_CALLS = 4


async def answer_stream(
    reply: Reply,
    *,
    before_attempt: Callable[[], Awaitable[None]],
    on_wait: Callable[[ProviderError, float], Awaitable[None]] | None = None,
) -> AsyncIterator[StreamItem]:
    """Delta items, then one Finish (with the provider's usage when it spoke).

    `on_wait`: awaited before each wait for another attempt of the provider (retry.py).
    """
    retrying = functools.partial(_provider_items, before_attempt=before_attempt, on_wait=on_wait)
    finish = Finish()
    if reply.prefix:
        async for delta in _chunks(reply.prefix + ("\n\n" if reply.request or reply.body else "")):
            yield delta
    if reply.request is not None:
        called: list[FunctionCall] = []
        written: list[str] = []  # the provider's text so far
        async for item in retrying(reply.request, written, require_text=True):
            if isinstance(item, Finish):
                finish = item
            elif isinstance(item, FunctionCall):
                called.append(item)
            else:
                yield item
        request = reply.request
        if called:
            # The model asked for tools (ERNIE function calling, OpenAI tool calls): call them,
            # then let it answer with their results.
            request = await _after_function_calls(reply, called, said="".join(written))
        continued = 0
        while called or (finish.truncated and continued < MAX_CONTINUATIONS):
            if not called:
                # The model stopped at its output limit mid-sentence (ERNIE is_truncated, finish_reason
                # length): it is asked to go on, as Baidu's SDK does, so the player reads it whole.
                continued += 1
                request = _continuation(request, "".join(written))
            # After a tool's result the model owes the player an answer; going on, it may have none left.
            require_text, called, before = bool(called), [], finish
            async for item in retrying(request, written, require_text=require_text):
                if isinstance(item, Finish):
                    finish = _added(before, item)
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


async def _after_function_calls(reply: Reply, calls: list[FunctionCall], *, said: str) -> ChatRequest:
    """Run the tools the model named, for this conversation's verified player only: the request
    again, with their outcomes (each provider words them its own way: ERNIE v1 reads them in its
    system prompt, the OpenAI-compatible APIs as `tool` messages) and no tools to call again."""
    catalogue = await sync_to_async(get_catalogue, thread_sensitive=False)()
    request = reply.request
    assert request is not None
    # A model may ask for several at once (OpenAI's parallel tool calls); the player waits for
    # the slowest only. Each call is answered, as the API requires, however many it asks for.
    outcomes = await asyncio.gather(
        *(_run_tool(reply, call, catalogue) for call in calls[:MAX_TOOL_CALLS]),
    )
    skipped = [
        _outcome(reply, call, tools.ToolResult(call.name, ok=False, error="too_many_calls"))
        for call in calls[MAX_TOOL_CALLS:]
    ]
    return replace(request, functions=[], tool_round=ToolRound(tuple([*outcomes, *skipped]), said=said))


async def _run_tool(reply: Reply, call: FunctionCall, catalogue: Catalogue) -> ToolOutcome:
    spec = catalogue.tools.get(call.name)
    if spec is None:
        # A name the model made up: it is told so and answers without it; staff see it tried.
        return _outcome(reply, call, tools.ToolResult(call.name, ok=False, error="unknown_tool"))
    facts = {**reply.facts, **tools.facts_from_function_call(spec, call.arguments, catalogue.facts)}
    return _outcome(reply, call, await tools.acall(spec, facts=facts, verified_player_id=reply.verified_player_id))


def _outcome(reply: Reply, call: FunctionCall, result: tools.ToolResult) -> ToolOutcome:
    """Recorded for staff (Message.meta["tool_calls"]), and given back to the model: the data, or
    the error (timeout, http_500, unknown_tool, …) for it to tell the player."""
    reply.tool_calls.append({**result.as_meta(), "requested_by": "llm"})
    data = result.data if result.ok else {"error": result.error}
    return ToolOutcome(call, json.dumps(data, ensure_ascii=False))


async def _provider_items(
    request: ChatRequest, written: list[str], *, require_text: bool, **retrying
) -> AsyncIterator[StreamItem]:
    """The provider's stream (retried before its first token), its text also added to `written`.

    `require_text`: an empty answer fails (stream_with_retry), rather than end as an empty bubble.
    """
    async for item in stream_with_retry(get_provider(), request, require_text=require_text, **retrying):
        if isinstance(item, Delta):
            written.append(item.text)
        yield item


def _continuation(request: ChatRequest, written: str) -> ChatRequest:
    """The request again, with the model's answer so far and the player's "go on" after it."""
    going_on = [ChatMessage("assistant", written), ChatMessage("user", CONTINUE.get(request.language, "Continue"))]
    return replace(request, messages=[*request.messages, *going_on], functions=[])


def _added(before: Finish, after: Finish) -> Finish:
    """The usage of an answer written in several requests, and how the last one ended."""
    return replace(
        after,
        prompt_tokens=before.prompt_tokens + after.prompt_tokens,
        completion_tokens=before.completion_tokens + after.completion_tokens,
    )


async def _chunks(text: str) -> AsyncIterator[Delta]:
    size = max(1, settings.LOCAL_PROVIDER_CHUNK_CHARS)
    for start in range(0, len(text), size):
        if start:
            await asyncio.sleep(settings.LOCAL_PROVIDER_CHUNK_DELAY)
        yield Delta(text[start : start + size])
