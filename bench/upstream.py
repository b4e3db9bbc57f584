"""A lean fake ERNIE v1 upstream for the benchmarks: raw asyncio, never the bottleneck.

It speaks ERNIE v1's wire format (shared docs `ernie-protocol.md`):

- ``POST /oauth/2.0/token?grant_type=client_credentials&client_id=..&client_secret=..``
  -> ``{"access_token": "24.bench…", "expires_in": 2592000}``
- ``POST /rpc/2.0/ai_custom/v1/wenxinworkshop/chat/<model>?access_token=..`` with
  ``"stream": true`` -> ``text/event-stream`` over chunked transfer encoding, one
  ``data: {json}\\n\\n`` per chunk; ``result`` is a delta; the last chunk has
  ``is_end: true``, an empty ``result`` and the usage. Every chunk also carries
  ``send_time`` (Unix time, seconds, taken just before the write).

Two paces, picked per request by a tag in the player's question
(``bench-<pace>-<id>``, see ``tag()``), else by ``--pace``:

- ``ernie``: the shape of ERNIE v1 in production: 4-6 sentence-sized chunks of
  20-60 characters, 0.5-1 s apart (the first one 0.5-1 s after the request).
- ``token``: the shape of OpenAI-compatible APIs: 20 chunks/s of 2-4 characters
  (``TOKEN_CHUNKS`` of them, the first 50 ms after the request).

The answer is a pure function of (pace, id) (``plan()``), so a load client
knows every chunk's text and offset without the upstream telling it, and the
text of chunk k starts at a known offset: the client matches what it receives to
chunks by offset. The upstream records when each request arrived and when each
chunk was written; ``GET /_bench/log`` returns that record (and clears it with
``?clear=1``), so the client can compute the delay the system under test added
to each chunk (receipt time - send time) after the run.

Lean on purpose: asyncio Protocols and ``loop.call_at`` timers, no task per
stream, chunk JSON built once per request with only the send time formatted at
write time.

Run: ``python bench/upstream.py --port 8900`` (prints ``READY <port>``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

PACES = ("ernie", "token", "warm")  # warm: 5 quick chunks, to warm a server up before measuring
TOKEN_CHUNKS = 80  # 4 s of text at 20 chunks/s
TOKEN_INTERVAL = 0.05
TAG_RE = re.compile(r"bench-(ernie|token|warm)-([0-9A-Za-z]{1,40})")
LOG_CAP = 500_000  # requests kept in the log before the oldest are dropped

# Text material: Chinese and ASCII, as a game support bot's answers are.
_HAN = (
    "充值没到账请稍等片刻系统会自动补发如果超过十分钟仍未收到可以提供订单号"
    "我们为您核实账号安全很重要不要把密码告诉任何人活动奖励将在结束后发放到邮件"
)
_ASCII = "abcdefghijklmnopqrstuvwxyz0123456789"


def tag(pace: str, bench_id: str) -> str:
    """The marker a load client puts in its question to pick the pace and name the answer."""
    return f"bench-{pace}-{bench_id}"


@dataclass(frozen=True)
class Chunk:
    delay: float  # seconds after the previous chunk (the first: after the request)
    text: str


def plan(pace: str, bench_id: str) -> list[Chunk]:
    """The answer's chunks: deterministic for (pace, id), each chunk's text unique in its answer.

    The text depends on the player's index only (the id after its last "x", as
    bench/load.py makes them: ``<run>x<index>``), not on the run: at the same N every
    system gets the same answers, so bytes per answer compare the protocols, not the
    luck of the draw (at N = 10, csbot's three setups, whose frames are the same, measured
    864-976 bytes per answer with texts drawn per run).
    """
    rng = random.Random(f"{pace}:{bench_id.rpartition('x')[2]}")
    if pace == "ernie":
        chunks = []
        for k in range(rng.randint(4, 6)):
            head = f"〔{k}〕"
            size = rng.randint(20, 60)
            body = "".join(
                rng.choice(_HAN) if rng.random() < 0.7 else rng.choice(_ASCII) for _ in range(size - len(head))
            )
            chunks.append(Chunk(rng.uniform(0.5, 1.0), head + body))
        return chunks
    if pace == "token":
        chunks = []
        for k in range(TOKEN_CHUNKS):
            size = rng.randint(2, 4)
            # The first character names the chunk (index mod the alphabet), the rest is filler.
            text = _HAN[k % len(_HAN)] + "".join(rng.choice(_HAN) for _ in range(size - 1))
            chunks.append(Chunk(TOKEN_INTERVAL, text))
        return chunks
    if pace == "warm":
        return [Chunk(0.01, f"<{k}>" + "".join(rng.choice(_HAN) for _ in range(8))) for k in range(5)]
    raise ValueError(f"unknown pace {pace!r}")


def answer_text(pace: str, bench_id: str) -> str:
    return "".join(c.text for c in plan(pace, bench_id))


def chunk_ends(pace: str, bench_id: str) -> list[int]:
    """The offset (in code points) just past each chunk: chunk k is complete once this much text arrived."""
    ends, total = [], 0
    for c in plan(pace, bench_id):
        total += len(c.text)
        ends.append(total)
    return ends


class Log:
    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}
        self.requests = 0
        self.chunks = 0

    def start(self, key: str, pace: str, arrived: float) -> list[float]:
        if len(self.entries) >= LOG_CAP:
            self.entries.pop(next(iter(self.entries)))
        sends: list[float] = []
        self.entries[key] = {"pace": pace, "arrived": arrived, "sends": sends, "end": None}
        self.requests += 1
        return sends


LOG = Log()
CONFIG = {"pace": "ernie", "token_lifetime": 2592000}
_anon = 0


def _chunk_prefixes(pace: str, bench_id: str, chunks: list[Chunk]) -> list[bytes]:
    """Each chunk's `data: {...` up to (not including) its send_time, encoded once."""
    created = int(time.time())
    out = []
    total = len(chunks)
    for k, c in enumerate(chunks + [Chunk(0.0, "")]):
        is_end = k == total
        obj = {
            "id": f"as-{bench_id}",
            "object": "chat.completion",
            "created": created,
            "sentence_id": k,
            "is_end": is_end,
            "is_truncated": False,
            "result": c.text,
            "need_clear_history": False,
            "finish_reason": "normal",
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": k if is_end else 0,
                "total_tokens": 12 + (k if is_end else 0),
            },
        }
        out.append(b"data: " + json.dumps(obj, ensure_ascii=False)[:-1].encode())
    return out


def _chunked(payload: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(payload), payload)


class Stream:
    """One SSE answer being written on a timer."""

    __slots__ = ("delays", "done", "handle", "k", "loop", "next_at", "prefixes", "proto", "sends")

    def __init__(self, proto: UpstreamProtocol, prefixes: list[bytes], delays: list[float], sends: list[float]) -> None:
        self.proto = proto
        self.prefixes = prefixes
        self.delays = delays
        self.sends = sends
        self.k = 0
        self.loop = asyncio.get_running_loop()
        self.next_at = self.loop.time()
        self.handle = None
        self.done = False
        self._schedule()

    def _schedule(self) -> None:
        # Chunks are due on an absolute schedule, so a late wake-up does not push later chunks back.
        self.next_at += self.delays[self.k]
        self.handle = self.loop.call_at(self.next_at, self.step)

    def step(self) -> None:
        transport = self.proto.transport
        if transport is None or transport.is_closing():
            self.done = True
            return
        now = time.time()
        payload = self.prefixes[self.k] + b', "send_time": %.6f}\n\n' % now
        transport.write(_chunked(payload))
        self.sends.append(now)
        LOG.chunks += 1
        self.k += 1
        if self.k < len(self.prefixes):
            self._schedule()
        else:
            transport.write(b"0\r\n\r\n")
            self.done = True
            self.proto.stream = None
            self.proto.maybe_parse()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.done = True


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.stream: Stream | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        if self.stream is not None:
            self.stream.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > 4 << 20:
            self._reply(413, b'{"error":"too large"}', close=True)
            return
        self.maybe_parse()

    def maybe_parse(self) -> None:
        # One request at a time per connection (HTTP/1.1 keep-alive, no pipelining while streaming).
        while self.stream is None and self.transport is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                self._reply(400, b'{"error":"bad request line"}', close=True)
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.handle(method, target, headers, body)

    def _reply(self, status: int, body: bytes, *, content_type: str = "application/json", close: bool = False) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}.get(status, "OK")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        ).encode()
        assert self.transport is not None
        self.transport.write(head + body)
        if close:
            self.transport.close()

    def handle(self, method: str, target: str, headers: dict, body: bytes) -> None:
        url = urlsplit(target)
        query = parse_qs(url.query)
        path = url.path
        if path == "/oauth/2.0/token":
            token = {"access_token": "24.bench-token", "expires_in": CONFIG["token_lifetime"], "scope": "bench"}
            self._reply(200, json.dumps(token).encode())
        elif path.startswith("/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/"):
            self._chat(body)
        elif path == "/_bench/log":
            payload = {"requests": LOG.requests, "chunks": LOG.chunks, "entries": LOG.entries}
            data = json.dumps(payload).encode()
            if query.get("clear", ["0"])[0] == "1":
                LOG.entries = {}
            self._reply(200, data)
        elif path == "/_bench/config":
            if "pace" in query and query["pace"][0] in PACES:
                CONFIG["pace"] = query["pace"][0]
            self._reply(200, json.dumps(CONFIG).encode())
        elif path == "/healthz":
            self._reply(200, b'{"ok":true}')
        else:
            self._reply(404, b'{"error":"not found"}')

    def _chat(self, body: bytes) -> None:
        global _anon
        arrived = time.time()
        pace, bench_id = CONFIG["pace"], None
        try:
            request = json.loads(body)
            question = request["messages"][-1]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            self._reply(200, b'{"error_code": 336003, "error_msg": "the messages are invalid"}')
            return
        found = TAG_RE.findall(question)
        if found:
            pace, bench_id = found[-1]
        else:
            _anon += 1
            bench_id = f"anon{_anon}"
        chunks = plan(pace, bench_id)
        sends = LOG.start(f"{pace}-{bench_id}", pace, arrived)
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        )
        self.stream = Stream(self, _chunk_prefixes(pace, bench_id, chunks), [c.delay for c in chunks] + [0.0], sends)


async def serve(host: str, port: int, ready: Callable[[int], None] | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    if ready:
        ready(bound)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--pace", choices=PACES, default="ernie", help="pace of requests without a bench tag")
    args = parser.parse_args()
    CONFIG["pace"] = args.pace
    asyncio.run(serve(args.host, args.port, ready=lambda p: print(f"READY {p}", flush=True)))


if __name__ == "__main__":
    main()
