"""A fake ERNIE Bot v1 server for development, tests and benchmarks.

It is a raw asyncio HTTP/1.1 server rather than an aiohttp.web app so that it
decides exactly how bytes hit the socket (a character split across two TCP
packets, a connection cut mid-stream, a stream that goes silent) and costs
almost nothing per chunk, so a benchmark measures csbot and not the fake.

It speaks the wire format of docs/ernie-protocol.md: the token endpoint, the
chat endpoint with SSE streaming, errors as HTTP 200 JSON objects, and the
messages rule (odd count, alternating, user first) enforced with 336003.

    server = FakeErnieServer(reply="你好！How can I help?")
    await server.start()
    server.script("error_object", error_code=18)   # the next chat request hits the QPS limit
    ... point ERNIE_BASE_URL at server.base_url ...
    await server.stop()

FakeErnieThread runs the same server on its own loop in a daemon thread, for
sync tests and for tests whose Django runs in another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_API_KEY = "fake-ernie-api-key"
DEFAULT_SECRET_KEY = "fake-ernie-secret-key"
TOKEN_TTL = 2_592_000  # 30 days, as Baidu issues them
CHAT_PREFIX = "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/"
MAX_CHARS = 20_000

ERROR_MESSAGES = {
    2: "Service temporarily unavailable",
    4: "Open api request limit reached",
    17: "Open api daily request limit reached",
    18: "Open api qps request limit reached",
    110: "Access token invalid or no longer valid",
    111: "Access token expired",
    336002: "Invalid JSON",
    336003: "Invalid argument",
    336100: "Internal error, please try again later",
    336501: "Rate limit reached for RPM",
    336502: "Rate limit reached for TPM",
}

FAULTS = frozenset(
    {
        "error_object",  # HTTP 200 JSON {"error_code", "error_msg"}: error_code=18, error_msg=...
        "expired_token",  # 111, and the token really stops working
        "http_500",  # status=500, bce_code="InternalError", retry_after=None: a gateway failure (429: a rate limit)
        "drop_mid_stream",  # after=2 chunks, then the socket is aborted
        "malformed_line",  # after=1 chunk, a `data: {not json` line, then the rest
        "hang",  # after=0 chunks, then silence until the client leaves
        "error_after_first_token",  # one chunk, then a bare JSON error line: error_code=336100
        "need_clear_history",  # a single chunk flagging the input: ban_round=-1
        "content_filter",  # after=1 chunk, the last chunk with finish_reason content_filter: the output was cut
        "truncated",  # after=1 chunk, the last chunk with is_truncated: the output limit was reached
    }
)

# Sentences of 20-60 characters, like ERNIE's whole-sentence chunks.
SENTENCES = [
    "我是百度公司开发的人工智能语言模型，我的中文名是文心一言，英文名是ERNIE Bot。",
    "我可以协助你完成范围广泛的任务，比如回答问题、提供定义和解释以及建议。",
    "Forgot your password? Open Settings and tap Reset. ",
    "充值未到账时，请先确认订单状态，一般五分钟内到账，超过三十分钟请联系人工客服。",
    "Refunds arrive within 3 to 5 business days. ",
    "如果还有其他问题，欢迎随时向我提问，我会尽力为你解答。",
]

# The chunk texts: a string (cut into sentences), a list (sent as given), or a
# function of the player's last message returning either.
Reply = str | list[str] | Callable[[str], str | list[str]] | None

CONFIG_FIELDS = frozenset(
    {
        "api_key",
        "secret_key",
        "reply",
        "pace",  # None, "ernie" (4-6 sentences, 0.5-1 s apart) or "token" (2-4 chars, 20/s)
        "delay",  # seconds between chunks: a number or a (low, high) range
        "first_delay",  # seconds before the first chunk (model "thinking" time)
        "line_ending",  # "\n" or "\r\n"
        "multiline_data",  # each chunk as indented JSON, one `data:` line per line of it (SSE joins them)
        "split_utf8",  # write each chunk in two packets, cut inside a multibyte character
        "split_crlf",  # write each chunk in two packets, cut between \r and \n
        "send_time",  # add time.time() at send to each chunk as `send_time`
        "chunked",  # Transfer-Encoding: chunked with keep-alive, else Connection: close
        "token_ttl",
    }
)

SPLIT_PAUSE = 0.01  # long enough for the two halves to leave as separate packets


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: Any  # the parsed JSON, or the raw text if it was not JSON, or None
    keep_alive: bool = True


@dataclass
class _Fault:
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


class _ClientGone(Exception):
    pass


class _BadRequest(Exception):
    """Bytes that are not an HTTP/1.1 request: the connection is dropped."""


class FakeErnieServer:
    """The fake. Configuration is read at every request, so tests may change it between requests."""

    def __init__(self, **config: Any) -> None:
        self.api_key: str | None = DEFAULT_API_KEY
        self.secret_key: str | None = DEFAULT_SECRET_KEY
        self.reply: Reply = None
        self.pace: str | None = None
        self.delay: float | tuple[float, float] = 0.0
        self.first_delay = 0.0
        self.line_ending = "\n"
        self.multiline_data = False
        self.split_utf8 = False
        self.split_crlf = False
        self.send_time = False
        self.chunked = True
        self.token_ttl = TOKEN_TTL
        self.configure(**config)

        self.requests: list[RecordedRequest] = []  # chat requests, in order
        self.token_requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []  # the fake's own crashes
        self.connections = 0  # TCP connections accepted (keep-alive reuse shows here)
        self.client_disconnects = 0  # clients that left while a reply was being sent
        self.host = ""
        self.port = 0
        self._tokens: dict[str, float] = {}  # token -> expiry, time.time()
        self._faults: deque[_Fault] = deque()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    # --- control --------------------------------------------------------------

    def configure(self, **config: Any) -> None:
        unknown = set(config) - CONFIG_FIELDS
        if unknown:
            raise TypeError(f"unknown FakeErnieServer settings: {sorted(unknown)}")
        if config.get("pace") not in (None, "ernie", "token"):
            raise ValueError("pace must be None, 'ernie' or 'token'")
        for name, value in config.items():
            setattr(self, name, value)

    def script(self, fault: str, *, times: int = 1, **options: Any) -> None:
        """Make the next `times` chat requests fail in the given way (see FAULTS)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {sorted(FAULTS)}")
        self._faults.extend(_Fault(fault, options) for _ in range(times))

    def clear_faults(self) -> None:
        """Drop the scripted faults not met yet: the upstream recovers (a rate limit lifted)."""
        self._faults.clear()

    def expire_tokens(self) -> None:
        """Every token issued so far now gets 111."""
        self._tokens = dict.fromkeys(self._tokens, 0.0)

    def invalidate_tokens(self) -> None:
        """Every token issued so far now gets 110."""
        self._tokens = {}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeErnieServer:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    # --- HTTP -----------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        conn = _Connection(reader, writer)
        try:
            while (request := await conn.read_request()) is not None:
                if not await self._dispatch(conn, request) or not request.keep_alive:
                    break
        except _ClientGone:
            self.client_disconnects += 1
        except asyncio.CancelledError:
            pass  # stop(); asyncio 3.11 logs a cancelled connection callback as an error
        except (ConnectionError, _BadRequest):
            pass  # a broken client; the fake only owes answers to sane ones
        except Exception as exc:  # a bug in the fake: the fixtures fail the test on it
            self.errors.append(exc)
            raise
        finally:
            await conn.stop_watching()
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()

    async def _dispatch(self, conn: _Connection, request: RecordedRequest) -> bool:
        """Answer one request; False means the connection must close."""
        if request.method != "POST":
            return await conn.send_json(405, {"error_code": 336101, "error_msg": "Invalid HTTP method"})
        if request.path == "/oauth/2.0/token":
            return await self._token(conn, request)
        if request.path.startswith(CHAT_PREFIX):
            return await self._chat(conn, request)
        return await conn.send_json(404, {"error_code": 3, "error_msg": "Unsupported openapi method"})

    async def _token(self, conn: _Connection, request: RecordedRequest) -> bool:
        self.token_requests.append(request)
        query = request.query
        if query.get("grant_type") != "client_credentials":
            error = {
                "error": "unsupported_grant_type",
                "error_description": "The authorization grant type is not supported",
            }
            return await conn.send_json(400, error)
        # A key of None accepts any non-empty one (handy for development).
        if not query.get("client_id") or self.api_key not in (None, query["client_id"]):
            return await conn.send_json(401, {"error": "invalid_client", "error_description": "unknown client id"})
        if not query.get("client_secret") or self.secret_key not in (None, query["client_secret"]):
            error = {"error": "invalid_client", "error_description": "Client authentication failed"}
            return await conn.send_json(401, error)
        token = f"24.{secrets.token_hex(16)}.{self.token_ttl}.{int(time.time())}.282335-fake"
        self._tokens[token] = time.time() + self.token_ttl
        reply = {
            "refresh_token": f"25.{secrets.token_hex(16)}",
            "expires_in": self.token_ttl,
            "session_key": secrets.token_hex(16),
            "access_token": token,
            "scope": "public brain_all_scope wenxinworkshop_mgr",
            "session_secret": secrets.token_hex(16),
        }
        return await conn.send_json(200, reply)

    async def _chat(self, conn: _Connection, request: RecordedRequest) -> bool:
        self.requests.append(request)
        token = request.query.get("access_token", "")
        if token not in self._tokens:
            return await conn.send_json(200, _error(110))
        if self._tokens[token] < time.time():
            return await conn.send_json(200, _error(111))
        if problem := _invalid_body(request.body):
            return await conn.send_json(200, problem)
        fault = self._faults.popleft() if self._faults else None
        if fault and fault.kind == "error_object":
            code = fault.options.get("error_code", 18)
            return await conn.send_json(200, _error(code, fault.options.get("error_msg")))
        if fault and fault.kind == "expired_token":
            self._tokens[token] = 0.0
            return await conn.send_json(200, _error(111))
        if fault and fault.kind == "http_500":
            return await self._gateway_error(conn, fault.options)
        plan = self._plan(_question(request.body), fault)
        return await _Stream(self, conn, request.body).play(plan)

    async def _gateway_error(self, conn: _Connection, options: dict[str, Any]) -> bool:
        code = options.get("bce_code", "InternalError")
        message = "We encountered an internal error. Please try again."
        headers = {"X-Bce-Error-Code": code, "X-Bce-Error-Message": message, "X-Bce-Request-Id": secrets.token_hex(8)}
        if "retry_after" in options:  # a gateway's 429 says when to come back
            headers["Retry-After"] = str(options["retry_after"])
        body = {"code": code, "message": message, "requestId": headers["X-Bce-Request-Id"]}
        return await conn.send_json(options.get("status", 500), body, headers=headers)

    # --- replies --------------------------------------------------------------

    def _plan(self, question: str, fault: _Fault | None) -> list[tuple[str, Any]]:
        """The steps of one streamed reply: ("chunk", text), ("final", None), ("raw", bytes)..."""
        normal: list[tuple[str, Any]] = [("chunk", text) for text in self._chunks(question)]
        normal.append(("final", None))
        if fault is None:
            return normal
        after = fault.options.get("after")
        if fault.kind == "drop_mid_stream":
            return normal[: 2 if after is None else after] + [("drop", None)]
        if fault.kind == "malformed_line":
            cut = 1 if after is None else after
            return normal[:cut] + [("raw", b"data: {not json")] + normal[cut:]
        if fault.kind == "hang":
            return normal[: after or 0] + [("hang", None)]
        if fault.kind == "error_after_first_token":
            code = fault.options.get("error_code", 336100)
            return normal[:1] + [("error_line", _error(code, fault.options.get("error_msg")))]
        if fault.kind == "content_filter":
            return normal[: 1 if after is None else after] + [("final", {"finish_reason": "content_filter"})]
        if fault.kind == "truncated":
            cut = normal[: 1 if after is None else after]
            return cut + [("final", {"finish_reason": "length", "is_truncated": True})]
        if fault.kind == "need_clear_history":
            return [("blocked", fault.options.get("ban_round", -1))]
        raise AssertionError(fault.kind)

    def _chunks(self, question: str) -> list[str]:
        reply = self.reply(question) if callable(self.reply) else self.reply
        if reply is None:
            reply = default_reply(question, varied=self.pace is not None)
        chunks = split_sentences(reply) if isinstance(reply, str) else list(reply)
        if self.pace == "token":
            text = "".join(chunks)
            chunks, i = [], 0
            while i < len(text):
                step = random.randint(2, 4)
                chunks.append(text[i : i + step])
                i += step
        return chunks

    def _next_delay(self) -> float:
        delay = self.delay
        if delay == 0.0 and self.pace == "ernie":
            delay = (0.5, 1.0)
        elif delay == 0.0 and self.pace == "token":
            delay = 0.05
        return random.uniform(*delay) if isinstance(delay, tuple) else float(delay)


class _Stream:
    """Plays one reply plan onto the socket as ERNIE's SSE chunks."""

    def __init__(self, server: FakeErnieServer, conn: _Connection, body: dict[str, Any]) -> None:
        self.server = server
        self.conn = conn
        self.id = f"as-{secrets.token_hex(5)}"
        self.sentence_id = 0
        self.prompt_tokens = count_tokens(body.get("system", "")) + sum(
            count_tokens(m.get("content", "")) for m in body["messages"]
        )
        self.completion_tokens = 0
        self.eol = server.line_ending.encode()

    async def play(self, plan: list[tuple[str, Any]]) -> bool:
        server, conn = self.server, self.conn
        conn.watch_for_disconnect()
        first = True
        for step, value in plan:
            if step in ("chunk", "final"):
                await conn.pause(server.first_delay if first else server._next_delay())
            if first and step != "hang":
                await conn.start_stream(chunked=server.chunked)
            first = False
            if step == "chunk":
                self.completion_tokens += count_tokens(value)
                await self._send_event(self._chunk(value, is_end=False))
            elif step == "final":
                await self._send_event(self._chunk("", is_end=True, **(value or {})))
            elif step == "blocked":
                await self._send_event(self._chunk("", is_end=True, need_clear_history=True, ban_round=value))
            elif step == "raw":
                await conn.send_body(value + self.eol + self.eol)
            elif step == "error_line":
                await conn.send_body(json.dumps(value).encode() + self.eol)
            elif step == "drop":
                conn.writer.transport.abort()
                return False
            elif step == "hang":
                await conn.wait_for_disconnect()
        await conn.stop_watching()
        return await conn.end_stream()

    def _chunk(self, result: str, *, is_end: bool, **extra: Any) -> dict[str, Any]:
        chunk = {
            "id": self.id,
            "object": "chat.completion",
            "created": int(time.time()),
            "sentence_id": self.sentence_id,
            "is_end": is_end,
            "is_truncated": False,
            "result": result,
            "need_clear_history": False,
            "finish_reason": "normal",
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            },
            **extra,
        }
        self.sentence_id += 1
        if self.server.send_time:
            chunk["send_time"] = time.time()
        return chunk

    async def _send_event(self, chunk: dict[str, Any]) -> None:
        data = sse_event(chunk, self.eol, multiline=self.server.multiline_data)
        split_at = None
        if self.server.split_utf8:
            split_at = _inside_multibyte_char(data)
        if split_at is None and self.server.split_crlf and self.eol == b"\r\n":
            split_at = data.index(b"\r\n") + 1
        await self.conn.send_body(data, split_at=split_at)


class _Connection:
    """One client socket: hand-written request parsing and response framing."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = bytearray()
        self.chunked = True
        self._watcher: asyncio.Task[None] | None = None

    async def read_request(self) -> RecordedRequest | None:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if len(self.buffer) > 65536 or not await self._fill():
                return None
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        request_line, *header_lines = head.split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        try:
            method, target, version = request_line.split(" ", 2)
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise _BadRequest(request_line) from None
        while len(self.buffer) < length:
            if not await self._fill():
                return None
        raw = bytes(self.buffer[:length]).decode("utf-8", "replace")
        del self.buffer[:length]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        url = urlsplit(target)
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        return RecordedRequest(method, url.path, dict(parse_qsl(url.query)), headers, body, keep_alive)

    async def _fill(self) -> bool:
        data = await self.reader.read(65536)
        self.buffer += data
        return bool(data)

    # While a reply streams the client sends nothing, so a read that returns
    # b"" means it has gone: we notice at once instead of at the next write.
    def watch_for_disconnect(self) -> None:
        async def watch() -> None:
            with contextlib.suppress(ConnectionError):
                while await self._fill():
                    pass  # a pipelined request: it stays in the buffer

        self._watcher = asyncio.create_task(watch())

    async def stop_watching(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            # Only one coroutine may wait on the reader: let the watcher finish leaving.
            await asyncio.wait([watcher])

    async def pause(self, seconds: float) -> None:
        watcher = self._watcher
        if seconds > 0 and watcher is not None:
            await asyncio.wait([watcher], timeout=seconds)
        elif seconds > 0:
            await asyncio.sleep(seconds)
        if watcher is not None and watcher.done():
            raise _ClientGone

    async def wait_for_disconnect(self) -> None:
        if self._watcher is not None:
            await asyncio.shield(self._watcher)
        raise _ClientGone

    async def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> bool:
        body = json.dumps(payload, ensure_ascii=False).encode()
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self._drain()
        return True

    async def start_stream(self, *, chunked: bool) -> None:
        self.chunked = chunked
        framing = "Transfer-Encoding: chunked" if chunked else "Connection: close"
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n{framing}\r\n\r\n"
        self.writer.write(head.encode())
        await self._drain()

    async def send_body(self, data: bytes, *, split_at: int | None = None) -> None:
        if self.chunked:
            size = f"{len(data):x}\r\n".encode()
            if split_at is not None:
                split_at += len(size)
            data = size + data + b"\r\n"
        if split_at is None:
            self.writer.write(data)
        else:
            self.writer.write(data[:split_at])
            await self._drain()
            await self.pause(SPLIT_PAUSE)
            self.writer.write(data[split_at:])
        await self._drain()

    async def end_stream(self) -> bool:
        if not self.chunked:
            return False  # Connection: close is how this body ends
        self.writer.write(b"0\r\n\r\n")
        await self._drain()
        return True

    async def _drain(self) -> None:
        if self.writer.transport.is_closing():
            raise _ClientGone
        try:
            await self.writer.drain()
        except ConnectionError:
            raise _ClientGone from None


class FakeErnieThread:
    """The fake on its own event loop in a daemon thread; same API as FakeErnieServer.

    Settings can be changed with configure() or by assigning attributes.
    """

    def __init__(self, **config: Any) -> None:
        object.__setattr__(self, "server", FakeErnieServer(**config))
        object.__setattr__(self, "_loop", None)
        object.__setattr__(self, "_thread", None)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeErnieThread:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-ernie", daemon=True)
        object.__setattr__(self, "_loop", loop)
        object.__setattr__(self, "_thread", thread)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.server.start(host, port), loop).result(10)
        except BaseException:
            self._shut_down()
            raise
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        self._shut_down()

    def _shut_down(self) -> None:
        loop, thread = self._loop, self._thread
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        object.__setattr__(self, "_loop", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.server.configure(**{name: value})


# --- helpers ------------------------------------------------------------------

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS |= {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
# After Chinese end punctuation, or after Latin punctuation and a space (not in "3.5").
_SENTENCE_END = re.compile(r"(?<=[。！？；])|(?<=[.!?;] )")
_TOKEN = re.compile(r"[\u4e00-\u9fff]|[A-Za-z0-9]+")


def _error(code: int, message: str | None = None) -> dict[str, Any]:
    return {
        "error_code": code,
        "error_msg": message or ERROR_MESSAGES.get(code, "error"),
        "id": f"as-{secrets.token_hex(5)}",
    }


def _invalid_body(body: Any) -> dict[str, Any] | None:
    """ERNIE's checks on the request body: an error object, or None if it is fine."""
    if not isinstance(body, dict):
        return _error(336002)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(336003, "messages is empty")
    if len(messages) % 2 == 0:
        return _error(336003, "the length of messages must be an odd number")
    for i, message in enumerate(messages):
        expected = "user" if i % 2 == 0 else "assistant"
        if not isinstance(message, dict) or message.get("role") != expected:
            return _error(336003, f"messages[{i}] must have role {expected}")
        if not isinstance(message.get("content"), str) or not message["content"]:
            return _error(336003, f"messages[{i}] content is empty")
    size = len(body.get("system", "")) + sum(len(m["content"]) for m in messages)
    if size > MAX_CHARS:
        return _error(336003, f"the total length of system and messages exceeds {MAX_CHARS}")
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 < temperature <= 1):
        return _error(336003, "temperature must be in (0, 1]")
    return None


def _question(body: dict[str, Any]) -> str:
    return body["messages"][-1]["content"]


def sse_event(chunk: dict[str, Any], eol: bytes = b"\n", *, multiline: bool = False) -> bytes:
    """One SSE event carrying `chunk`: a `data:` line, or with `multiline` one per line of the
    chunk's indented JSON, which a client joins with "\n" (the SSE spec) into the same JSON."""
    text = json.dumps(chunk, ensure_ascii=False, indent=1 if multiline else None)
    return b"".join(b"data: " + line.encode() + eol for line in text.split("\n")) + eol


def _inside_multibyte_char(data: bytes) -> int | None:
    """An index that cuts the first multibyte UTF-8 character of `data` in two."""
    for i, byte in enumerate(data):
        if byte >= 0xC0:
            return i + 1
    return None


def default_reply(question: str, *, varied: bool = False) -> list[str]:
    """Sentence chunks that echo the question, like the captured ERNIE stream."""
    echo = f"您好，关于您问的“{question[:24]}”，下面是我为您整理的回答。"
    if varied:
        return [echo, *random.sample(SENTENCES, random.randint(3, 5))]
    return [echo, *SENTENCES[:4]]


def split_sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text) if part] or [text]


def count_tokens(text: str) -> int:
    """Roughly ERNIE's count: one per Chinese character, one per Latin word."""
    return len(_TOKEN.findall(text))
