"""A small fake OpenAI-compatible chat-completions server (Qianfan v2 flavour), for tests.

Unlike agents/fake_ernie.py it needs no control over TCP packets, so it is a
plain aiohttp.web app. It streams `chat.completion.chunk` objects, a finish
chunk, a usage chunk when `stream_options.include_usage` is set, then
`data: [DONE]`.

    server = await FakeOpenAIServer(reply=["Hello", " there"]).start()
    server.script("error_object", code="rpm_rate_limit_exceeded")  # HTTP 200 + error body
    server.script("tool_calls", calls=[{"name": "order_status", "arguments": '{"order_no": "SL1"}'}])

`reply` may also be a function of the request's body returning the chunks (a model
that answers from the `tool` messages it was sent). Like OpenAI, the fake refuses
(HTTP 400) a conversation whose tool calls and `tool` messages don't match.
    ... OPENAI_BASE_URL = server.base_url ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agents.fake_ernie import sse_event

DEFAULT_API_KEY = "fake-openai-key"

FAULTS = frozenset(
    {
        "error_object",  # HTTP `status` (200) with {"error": {code, message, type}}
        "http_429",  # a rate limit the way OpenAI itself reports it: retry_after=seconds sends Retry-After
        "no_done",  # the stream ends without `data: [DONE]`: finish=True to still send finish_reason
        "flagged",  # a chunk with Qianfan's `flag`: flag=3
        "content_filter",  # the reply, then finish_reason content_filter: the output was cut
        # The model calls tools instead of answering, as OpenAI and Qianfan v2 stream it:
        # calls=[{"name", "arguments": a JSON string}], each call's arguments sent `piece`
        # characters a chunk (the calls' fragments interleaved), after `said` (text first).
        "tool_calls",
    }
)

ReplyChunks = list[str] | Callable[[dict[str, Any]], list[str]]


@dataclass
class _Fault:
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


class FakeOpenAIServer:
    def __init__(self, *, api_key: str = DEFAULT_API_KEY, reply: ReplyChunks | None = None) -> None:
        self.api_key = api_key
        self.reply = reply or ["你好！", "I can help ", "with that."]
        self.requests: list[dict[str, Any]] = []  # {"headers": ..., "body": ..., "at": time.monotonic()}
        self._faults: deque[_Fault] = deque()
        # Each chunk as indented JSON, one `data:` line per line of it (SSE joins them with "\n").
        self.multiline_data = False
        self.delay = 0.0  # seconds between the reply's chunks
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def script(self, fault: str, *, times: int = 1, **options: Any) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {sorted(FAULTS)}")
        self._faults.extend(_Fault(fault, options) for _ in range(times))

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeOpenAIServer:
        app = web.Application()
        app.router.add_post("/v2/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}/v2"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "body": body, "at": time.monotonic()})
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error_response(401, "invalid_api_key", "Incorrect API key provided", "invalid_request_error")
        fault = self._faults.popleft() if self._faults else None
        if fault and fault.kind == "error_object":
            code = fault.options.get("code", "rpm_rate_limit_exceeded")
            kind = fault.options.get("type", "rate_limit_exceeded" if "rate_limit" in code else "invalid_request_error")
            return _error_response(fault.options.get("status", 200), code, f"fake {code}", kind)
        if fault and fault.kind == "http_429":
            response = _error_response(429, "rate_limit_exceeded", "Rate limit reached", "rate_limit_exceeded")
            if "retry_after" in fault.options:
                response.headers["Retry-After"] = str(fault.options["retry_after"])
            return response

        if problem := _unanswered_tool_calls(body.get("messages") or []):
            return _error_response(400, "invalid_request_error", problem, "invalid_request_error")

        response = _EventStream(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        response.multiline_data = self.multiline_data
        await response.prepare(request)
        base = {"id": f"as-{secrets.token_hex(5)}", "object": "chat.completion.chunk", "created": int(time.time())}
        base["model"] = body.get("model", "")
        if fault and fault.kind == "tool_calls":
            await _send_tool_calls(response, base, body, **fault.options)
            return response
        reply = self.reply(body) if callable(self.reply) else self.reply
        for position, text in enumerate(reply):
            if position and self.delay:
                await asyncio.sleep(self.delay)
            await _send(
                response, {**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
            )
        if fault and fault.kind == "flagged":
            await _send(response, {**base, "choices": [], "flag": fault.options.get("flag", 3), "ban_round": -1})
        if fault and fault.kind == "no_done" and not fault.options.get("finish"):
            return response
        finish_reason = "content_filter" if fault and fault.kind == "content_filter" else "stop"
        await _send(response, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            completion = sum(len(text) for text in reply)
            usage = {"prompt_tokens": 7, "completion_tokens": completion, "total_tokens": 7 + completion}
            await _send(response, {**base, "choices": [], "usage": usage})
        if not (fault and fault.kind == "no_done"):
            await response.write(b"data: [DONE]\n\n")
        return response


class _EventStream(web.StreamResponse):
    """The response, and how its events are written."""

    multiline_data = False


async def _send_tool_calls(
    response: _EventStream,
    base: dict[str, Any],
    body: dict[str, Any],
    *,
    calls: list[dict[str, str]],
    piece: int = 4,
    said: str = "",
) -> None:
    """The wire format of a model that calls tools: for each call a first chunk with its index,
    id, type and name (arguments ""), then its arguments' fragments, then finish_reason tool_calls."""

    async def delta(payload: dict[str, Any], finish_reason: str | None = None) -> None:
        chunk = {**base, "choices": [{"index": 0, "delta": payload, "finish_reason": finish_reason}]}
        await _send(response, chunk)

    if said:
        await delta({"role": "assistant", "content": said})
    for index, call in enumerate(calls):
        # The name as scripted, offered in `tools` or not: a model may make one up.
        function = {"name": call["name"], "arguments": ""}
        start = {"index": index, "id": f"call_{secrets.token_hex(6)}", "type": "function", "function": function}
        await delta({"role": "assistant", "content": None, "tool_calls": [start]})
    fragments = [
        [call["arguments"][at : at + piece] for at in range(0, len(call["arguments"]), piece)] for call in calls
    ]
    for round_ in range(max((len(f) for f in fragments), default=0)):
        for index, pieces in enumerate(fragments):
            if round_ < len(pieces):
                await delta({"tool_calls": [{"index": index, "function": {"arguments": pieces[round_]}}]})
    await delta({}, finish_reason="tool_calls")
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
        await _send(response, {**base, "choices": [], "usage": usage})
    await response.write(b"data: [DONE]\n\n")


def _unanswered_tool_calls(messages: list[dict[str, Any]]) -> str:
    """What OpenAI refuses: an assistant message's tool calls not each answered by a `tool` message
    right after it, or a `tool` message answering no call."""
    expected: set[str] = set()
    for message in messages:
        if message.get("role") == "tool":
            if message.get("tool_call_id") not in expected:
                return f"tool message for unknown tool_call_id {message.get('tool_call_id')!r}"
            expected.discard(message["tool_call_id"])
            continue
        if expected:
            return f"tool_call_ids without a tool message: {sorted(expected)}"
        expected = {call["id"] for call in message.get("tool_calls") or []}
    return f"tool_call_ids without a tool message: {sorted(expected)}" if expected else ""


async def _send(response: _EventStream, chunk: dict[str, Any]) -> None:
    await response.write(sse_event(chunk, multiline=response.multiline_data))


def _error_response(status: int, code: str, message: str, kind: str) -> web.Response:
    body = {"error": {"code": code, "message": message, "type": kind}, "id": f"as-{secrets.token_hex(5)}"}
    return web.json_response(body, status=status)
