"""An OpenAI-compatible chat-completions API, streamed (Qianfan v2 by default).

Qianfan v2 reports errors as `{"error": {"code", "message", "type"}}`, with HTTP
429 or with HTTP 200 depending on the source, so the body is checked whatever
the status. The stream ends with `data: [DONE]`; usage arrives in the last
chunk only because we ask for it (stream_options.include_usage).

Tools go out as `tools` (function calling). A model that calls them streams
`delta.tool_calls`: each call's `index`, then its `id` and name once, and its
arguments as fragments of a JSON string spread over any number of chunks (several
calls may interleave), ending with `finish_reason: "tool_calls"`. The calls are
yielded whole once that finish arrives; their results go back as an assistant
message naming them and one `tool` message per call (ChatRequest.tool_round).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from django.conf import settings

from .base import (
    ChatRequest,
    Delta,
    Finish,
    FunctionCall,
    Provider,
    ProviderError,
    SafetyBlocked,
    StreamItem,
    ToolRound,
)
from .ernie import NO_FUNCTIONS_MODELS, build_ernie_messages
from .http import client_timeout, drain, get_session, network_error, retry_after
from .reads import items_of_read
from .sse import SSEError, SSEParser

DONE = "[DONE]"
# v2 `flag`: 2 = no further chat, 3 = do not display, 4 = retract.
BLOCKING_FLAG = 2


class OpenAICompatProvider(Provider):
    name = "openai"

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        if not settings.OPENAI_API_KEY:
            raise ProviderError("OPENAI_API_KEY must be set to use the openai provider", code="not_configured")
        url = f"{settings.OPENAI_BASE_URL.rstrip('/')}/chat/completions"
        headers = {"Authorization": f"Bearer {settings.OPENAI_API_KEY}"}
        try:
            async with get_session().post(
                url, json=_request_body(request), headers=headers, timeout=client_timeout()
            ) as resp:
                if resp.status >= 300 or resp.content_type == "application/json":
                    raise _error_reply(resp.status, await resp.text(errors="replace"), retry_after(resp.headers))
                state = _StreamState()
                parser = SSEParser()
                async for chunk in resp.content.iter_any():
                    items, failure = items_of_read(parser.feed(chunk), lambda kind, text, more: state.read(kind, text))
                    for item in items:
                        yield item
                    if failure is not None:
                        raise failure
                    if state.done:
                        await drain(resp)
                        return
                for kind, text in parser.flush():
                    for item in state.read(kind, text):
                        yield item
                # Some compatible servers close without [DONE] after a finish_reason.
                if not state.done and state.finish_reason is None:
                    raise ProviderError("stream ended before [DONE]", retryable=True, code="incomplete")
                if not state.done:
                    yield state.finish()
        except SSEError as exc:
            raise ProviderError(f"unreadable stream: {exc}", code="malformed") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise network_error(exc, "OpenAI-compatible chat request") from exc


def _request_body(request: ChatRequest) -> dict[str, Any]:
    # User-first alternating history is valid for every compatible server, and
    # Qianfan's v2 models share v1's rules; this also caps its size.
    history = build_ernie_messages(request.messages, settings.LLM_HISTORY_CHARS)
    if not history:
        raise ProviderError("the conversation has no player message to answer", code="no_question")
    messages = [{"role": "system", "content": request.system}] if request.system else []
    temperature = request.temperature if request.temperature is not None else settings.LLM_TEMPERATURE
    body: dict[str, Any] = {
        "model": settings.OPENAI_MODEL,
        "messages": messages + history + _tool_messages(request.tool_round),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    # Qianfan v2 serves v1's models under their v2 names (ernie-speed-8k): those without functions
    # on v1 are offered no tools here either.
    if request.functions and not settings.OPENAI_MODEL.startswith(NO_FUNCTIONS_MODELS):
        body["tools"] = [{"type": "function", "function": function} for function in request.functions]
    if temperature is not None:
        body["temperature"] = min(max(float(temperature), 0.01), 1.0)
    if request.user_id:
        body["user"] = request.user_id
    return body


def _tool_messages(tool_round: ToolRound | None) -> list[dict[str, Any]]:
    """The model's tool calls as it made them, then each one's result, as the API requires."""
    if tool_round is None:
        return []
    calls = [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": _json(call.arguments)}}
        for call in (outcome.call for outcome in tool_round.outcomes)
    ]
    return [
        {"role": "assistant", "content": tool_round.said or None, "tool_calls": calls},
        *({"role": "tool", "tool_call_id": o.call.id, "content": o.content} for o in tool_round.outcomes),
    ]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class _ToolCallParts:
    """One tool call as its chunks have told it so far: the arguments come in fragments."""

    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []

    def add(self, delta: dict[str, Any]) -> None:
        self.id = delta.get("id") or self.id
        function = delta.get("function") or {}
        # The name comes whole in one chunk; some servers repeat it in every chunk.
        self.name = function.get("name") or self.name
        if fragment := function.get("arguments"):
            self.arguments.append(fragment)

    def call(self, index: int) -> FunctionCall:
        try:
            arguments = json.loads("".join(self.arguments) or "{}")
        except ValueError:
            arguments = {}
        # An id is what the result must name; a server that gives none gets one of ours.
        return FunctionCall(self.name, arguments if isinstance(arguments, dict) else {}, self.id or f"call_{index}")


class _StreamState:
    """What the chunks so far have said: the finish reason, the usage, the tool calls, [DONE]."""

    __slots__ = ("done", "finish_reason", "tool_calls", "usage")

    def __init__(self) -> None:
        self.done = False
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.tool_calls: dict[int, _ToolCallParts] = {}

    def read(self, kind: str, text: str) -> list[StreamItem]:
        if kind != "data":
            return _stray_line(text)
        if text == DONE:
            self.done = True
            return [*self._calls(), self.finish()]
        try:
            chunk = json.loads(text)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            raise ProviderError(f"malformed chunk: {text[:200]!r}", code="malformed")
        if "error" in chunk:
            raise _api_error(chunk["error"], status=200)
        if chunk.get("need_clear_history") or (chunk.get("flag") or 0) >= BLOCKING_FLAG:
            raise SafetyBlocked(ban_round=chunk.get("ban_round", -1))
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        items: list[StreamItem] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if content := delta.get("content"):
                items.append(Delta(content))
            for position, part in enumerate(delta.get("tool_calls") or []):
                self.tool_calls.setdefault(part.get("index", position), _ToolCallParts()).add(part)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
                items.extend(self._calls())
        return items

    def _calls(self) -> list[StreamItem]:
        """The tool calls, whole, once the model has finished (and only once)."""
        calls, self.tool_calls = self.tool_calls, {}
        return [parts.call(index) for index, parts in sorted(calls.items()) if parts.name]

    def finish(self) -> Finish:
        return Finish(
            finish_reason=self.finish_reason or "stop",
            prompt_tokens=self.usage.get("prompt_tokens", 0),
            completion_tokens=self.usage.get("completion_tokens", 0),
            truncated=self.finish_reason == "length",
        )


def _stray_line(text: str) -> list[StreamItem]:
    # A bare JSON error line inside the stream, as ERNIE v1 does; other noise is ignored.
    try:
        payload = json.loads(text)
    except ValueError:
        return []
    if isinstance(payload, dict) and "error" in payload:
        raise _api_error(payload["error"], status=200)
    return []


def _error_reply(status: int, text: str, wait: float | None = None) -> ProviderError:
    """`wait`: the reply's Retry-After, in seconds."""
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "error" in payload:
        return _api_error(payload["error"], status=status, wait=wait)
    return ProviderError(
        f"HTTP {status}: {text[:200]}",
        retryable=status >= 500,
        code="malformed" if status < 300 else status,
        rate_limited=status == 429,
        retry_after=wait,
    )


def _api_error(error: Any, *, status: int, wait: float | None = None) -> ProviderError:
    if not isinstance(error, dict):
        error = {"message": str(error)}
    code = error.get("code") or status
    kind = str(error.get("type") or "")
    return ProviderError(
        f"{code}: {error.get('message', '')}",
        retryable=status >= 500,
        code=code,
        # Qianfan says rpm_/tpm_rate_limit_exceeded, with HTTP 429 or 200 depending on the source.
        rate_limited="rate_limit" in str(code) or "rate_limit" in kind or status == 429,
        retry_after=wait,
    )
