"""A small fake OpenAI-compatible chat-completions server (Qianfan v2 flavour), for tests.

Unlike agents/fake_ernie.py it needs no control over TCP packets, so it is a
plain aiohttp.web app. It streams `chat.completion.chunk` objects, a finish
chunk, a usage chunk when `stream_options.include_usage` is set, then
`data: [DONE]`.

    server = await FakeOpenAIServer(reply=["Hello", " there"]).start()
    server.script("error_object", code="rpm_rate_limit_exceeded")  # HTTP 200 + error body
    ... OPENAI_BASE_URL = server.base_url ...
    await server.stop()
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_API_KEY = "fake-openai-key"

FAULTS = frozenset(
    {
        "error_object",  # HTTP `status` (200) with {"error": {code, message, type}}
        "http_429",  # a rate limit the way OpenAI itself reports it: retry_after=seconds sends Retry-After
        "no_done",  # the stream ends without `data: [DONE]`: finish=True to still send finish_reason
        "flagged",  # a chunk with Qianfan's `flag`: flag=3
        "content_filter",  # the reply, then finish_reason content_filter: the output was cut
    }
)


@dataclass
class _Fault:
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


class FakeOpenAIServer:
    def __init__(self, *, api_key: str = DEFAULT_API_KEY, reply: list[str] | None = None) -> None:
        self.api_key = api_key
        self.reply = reply or ["你好！", "I can help ", "with that."]
        self.requests: list[dict[str, Any]] = []  # {"headers": ..., "body": ..., "at": time.monotonic()}
        self._faults: deque[_Fault] = deque()
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

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        base = {"id": f"as-{secrets.token_hex(5)}", "object": "chat.completion.chunk", "created": int(time.time())}
        base["model"] = body.get("model", "")
        for text in self.reply:
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
            completion = sum(len(text) for text in self.reply)
            usage = {"prompt_tokens": 7, "completion_tokens": completion, "total_tokens": 7 + completion}
            await _send(response, {**base, "choices": [], "usage": usage})
        if not (fault and fault.kind == "no_done"):
            await response.write(b"data: [DONE]\n\n")
        return response


async def _send(response: web.StreamResponse, chunk: dict[str, Any]) -> None:
    await response.write(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")


def _error_response(status: int, code: str, message: str, kind: str) -> web.Response:
    body = {"error": {"code": code, "message": message, "type": kind}, "id": f"as-{secrets.token_hex(5)}"}
    return web.json_response(body, status=status)
