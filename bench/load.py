"""The load: N concurrent players, each asking one question, on asyncio in one process.

Targets:
- ``csbot``: GET ``/`` for the signed ``csbot_player`` cookie, open ``/ws/chat/``
  with that cookie and an allowed Origin, ``resume``, then ``send`` one question
  and read ``ack``, ``message``, ``delta``... until the bot answer's ``end``.
- ``floor``: the same frames against ``bench/floor.py`` (no cookie).
- ``gradio``: what gradio's browser client does for a ChatInterface submit:
  ``POST /gradio_api/run/predict`` (fn 0: save the textbox), ``POST
  /gradio_api/queue/join`` (fn 2: the streaming chat function), then the SSE
  stream ``GET /gradio_api/queue/data``, applying gradio's output diffs.

Phases: every client first connects (the socket is open and resumed; gradio has
nothing to open), then all send at once (``--arrival once``) or one after the
other evenly over ``--spread`` seconds (``--arrival spread``). With ``--arrival
join`` a player arrives as one does in production: evenly over ``--spread``
seconds, each opens the page and the socket on arrival and asks at once, so the
later players' connects land while the earlier ones' answers stream. The question
carries a tag (``bench-<pace>-<id>``) that makes the upstream answer at that
pace with a text known in advance (``upstream.plan``).

Measured per answer, against the upstream's own record (``GET /_bench/log``):
- ttft: player's send -> first text received; app_ttft = ttft minus the
  upstream's time to first chunk (its request arrival -> first chunk write),
  in two parts: app_ttft_in (send -> the request's arrival at the upstream: the
  question's way through the system) and app_ttft_out (first chunk write -> first
  text received);
- chunk delay: for each upstream chunk k, the time the client holds the text up
  to the end of chunk k minus the time the upstream wrote chunk k
  (``send_time``); this is what the system under test added;
- errors (setup failures, error frames, timeouts, closed sockets), incomplete
  answers (text differs from the upstream's, or no ``end``/done), gaps (a
  delta past the text held: a lost frame, or an ``end`` whose final length
  ``n`` is past it; the client sends ``resume`` as docs/protocol.md says and
  goes on);
- bytes received for the answer, from the send to the end: WebSocket payload
  plus frame header (no compression is negotiated) or, for gradio, HTTP bodies.

Prints ``PHASE answer <unix time>`` when the connect phase is over and ``PHASE
done <unix time>`` when the last answer ended (run.py measures server CPU
between them), then writes the summary JSON to ``--out`` (or stdout).

Everything is bounded: N is capped, every wait has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from websockets.asyncio.client import connect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from upstream import chunk_ends, plan, tag

MAX_N = 5000


class Gap(Exception):
    """A delta starts past the text held: a frame was lost (the client must resume)."""


@dataclass
class Answer:
    index: int
    bench_id: str
    ok: bool = False
    error: str = ""
    t_send: float = 0.0
    connect_s: float | None = None  # --arrival join: the page, the socket and its resume, on arrival
    t_first: float | None = None
    t_end: float | None = None
    status: str = ""
    text_parts: list[str] = field(default_factory=list)
    length: int = 0
    marks: list[tuple[float, int]] = field(default_factory=list)  # (receipt time, text length held)
    bytes: int = 0
    frames: int = 0
    gaps: int = 0  # text found missing (an offset or an end's `n` past the text held), each answered by a resume

    def add_text(self, offset: int | None, text: str, now: float) -> None:
        """Place received text by its offset (csbot's rule: drop what is already held)."""
        if offset is None:
            offset = self.length
        if offset > self.length:
            raise Gap(offset)
        new = text[self.length - offset :]
        if not new:
            return
        self.text_parts.append(new)
        self.length += len(new)
        if self.t_first is None:
            self.t_first = now
        self.marks.append((now, self.length))

    def set_text(self, full: str, now: float) -> None:
        """For snapshot-style updates: the whole text so far."""
        held = "".join(self.text_parts)
        if full.startswith(held):
            self.add_text(len(held), full[len(held) :], now)
        else:  # a rewrite: keep the new text
            self.text_parts, self.length = [full], len(full)
            if self.t_first is None and full:
                self.t_first = now
            self.marks.append((now, self.length))

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def ws_frame_bytes(payload: str | bytes) -> int:
    n = len(payload.encode() if isinstance(payload, str) else payload)
    return n + (2 if n < 126 else 4 if n < 65536 else 10)


# --- WebSocket clients: csbot and the floor ------------------------------------------


class SocketClient:
    def __init__(self, target: str, base_url: str, http: aiohttp.ClientSession, answer: Answer) -> None:
        self.target = target
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.answer = answer
        self.ws = None

    async def setup(self) -> None:
        parts = urlsplit(self.base_url)
        headers = {}
        if self.target == "csbot":
            async with self.http.get(self.base_url + "/", headers={"Accept-Language": "en"}) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"GET / -> HTTP {resp.status}")
                cookie = resp.cookies.get("csbot_player")
                if cookie is None:
                    raise RuntimeError("GET / set no csbot_player cookie")
                headers["Cookie"] = f"csbot_player={cookie.value}"
            path = "/ws/chat/"
        else:
            path = "/"
        self.ws = await connect(
            f"ws://{parts.netloc}{path}",
            additional_headers=headers,
            origin=self.base_url,
            compression=None,
            max_size=None,
            open_timeout=60,
            ping_interval=None,
            close_timeout=2,
        )
        await self.ws.send(json.dumps({"type": "resume", "after_seq": 0, "streams": {}}))
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if frame.get("type") == "resumed":
                return
            if frame.get("type") == "error":
                raise RuntimeError(f"error frame on resume: {frame}")

    async def ask(self, question: str, deadline: float) -> None:
        a = self.answer
        client_id = uuid.uuid4().hex
        a.t_send = time.time()
        await self.ws.send(json.dumps({"type": "send", "client_id": client_id, "text": question}, ensure_ascii=False))
        bot_id = None
        seq = 0
        resuming = False
        held_end = None  # an `end` with text still missing, checked again after the resume
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no end before the deadline ({a.length} chars, {a.gaps} gaps)")
            raw = await asyncio.wait_for(self.ws.recv(), remaining)
            now = time.time()
            a.bytes += ws_frame_bytes(raw)
            a.frames += 1
            frame = json.loads(raw)
            # csbot's delta is compact, {"t": "d", "i": id, "o": offset, "d": text};
            # the floor's is {"type": "delta", "d": text}.
            kind = "delta" if frame.get("t") == "d" else frame.get("type")
            if kind == "delta":
                if bot_id is None or frame.get("i", bot_id) == bot_id:
                    try:
                        a.add_text(frame.get("o"), frame["d"], now)
                    except Gap:
                        # docs/protocol.md: a gap means a lost frame; ask for what is missing.
                        a.gaps += 1
                        if not resuming and bot_id is not None:
                            resuming = True
                            await self.resume(seq, bot_id)
            elif kind == "resumed":
                resuming = False
                if held_end is not None:
                    frame, held_end = held_end, None
                    if self.finished(frame, now):
                        return
                    # The resume was still short (it read the buffer before the end): again.
                    a.gaps += 1
                    resuming = True
                    await self.resume(seq, frame.get("id", bot_id))
            elif kind == "ack":
                seq = max(seq, frame.get("seq") or 0)
            elif kind == "message":
                message = frame["message"]
                seq = max(seq, message.get("seq") or 0)
                if message.get("sender") == "bot":
                    bot_id = message["id"]
                    if message.get("text"):
                        a.add_text(0, message["text"], now)
            elif kind == "end":
                if bot_id is None or frame.get("id", bot_id) == bot_id:
                    if self.finished(frame, now):
                        return
                    # docs/protocol.md: an `end` whose final length `n` is more than the text
                    # held is a gap with no delta after it. Held until a resume brings the rest
                    # (the resume's reply has the `end` again when it started after the end).
                    a.gaps += 1
                    held_end = frame
                    if not resuming:
                        resuming = True
                        await self.resume(seq, frame.get("id", bot_id))
            elif kind == "replace":
                a.set_text(frame["text"], now)
            elif kind == "error":
                raise RuntimeError(f"error frame: {frame.get('code')}: {frame.get('message')}")

    def finished(self, frame: dict, now: float) -> bool:
        """Record an `end` that leaves nothing missing (the floor's has no `n`); False if text is missing."""
        a = self.answer
        if frame.get("n", a.length) > a.length:
            return False
        a.status = frame.get("status", "")
        a.t_end = now
        if a.status != "done":
            a.error = f"end status {a.status}: {frame.get('error', '')}"
        return True

    async def resume(self, seq: int, bot_id: int) -> None:
        streams = {str(bot_id): self.answer.length}
        await self.ws.send(json.dumps({"type": "resume", "after_seq": seq, "streams": streams}))

    async def close(self) -> None:
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:
                pass


# --- gradio --------------------------------------------------------------------------


def apply_diff(value, diff):
    """gradio's output diff format: a list of [op, path, value] with op in replace/append/add/delete."""
    for op, path, new in diff:
        if not path:
            if op == "replace":
                value = new
            elif op == "append":
                value = value + new
            continue
        target = value
        for key in path[:-1]:
            target = target[key]
        last = path[-1]
        if op == "replace":
            target[last] = new
        elif op == "append":
            target[last] = target[last] + new
        elif op == "add":
            if isinstance(target, list):
                target.insert(last, new)
            else:
                target[last] = new
        elif op == "delete":
            del target[last]
    return value


def assistant_text(chat_value) -> str:
    if not isinstance(chat_value, list):
        return ""
    for message in reversed(chat_value):
        if isinstance(message, dict) and message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return ""
    return ""


class GradioClient:
    SAVE_FN, CHAT_FN, TRIGGER = 0, 2, 10

    def __init__(self, base_url: str, http: aiohttp.ClientSession, answer: Answer) -> None:
        self.api = base_url.rstrip("/") + "/gradio_api"
        self.http = http
        self.answer = answer
        self.session_hash = uuid.uuid4().hex[:11]

    async def setup(self) -> None:
        pass

    async def ask(self, question: str, deadline: float) -> None:
        a = self.answer
        base = {"session_hash": self.session_hash, "event_data": None, "trigger_id": self.TRIGGER}
        timeout = aiohttp.ClientTimeout(total=max(1.0, deadline - time.monotonic()))
        a.t_send = time.time()
        async with self.http.post(
            self.api + "/run/predict", json={**base, "data": [question], "fn_index": self.SAVE_FN}, timeout=timeout
        ) as resp:
            a.bytes += len(await resp.read())
            if resp.status != 200:
                raise RuntimeError(f"run/predict -> HTTP {resp.status}")
        async with self.http.post(
            self.api + "/queue/join", json={**base, "data": [None, None], "fn_index": self.CHAT_FN}, timeout=timeout
        ) as resp:
            a.bytes += len(await resp.read())
            if resp.status != 200:
                raise RuntimeError(f"queue/join -> HTTP {resp.status}")
        outputs = None
        async with self.http.get(
            self.api + "/queue/data", params={"session_hash": self.session_hash}, timeout=timeout
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"queue/data -> HTTP {resp.status}")
            async for line in resp.content:
                now = time.time()
                a.bytes += len(line)
                if not line.startswith(b"data:"):
                    continue
                a.frames += 1
                msg = json.loads(line[5:])
                kind = msg.get("msg")
                if kind in ("process_generating", "process_completed"):
                    if not msg.get("success", True):
                        raise RuntimeError(f"gradio error: {str(msg.get('output'))[:200]}")
                    data = (msg.get("output") or {}).get("data")
                    if data is None:
                        continue
                    if outputs is None or kind == "process_completed":
                        outputs = data
                    else:
                        outputs = [apply_diff(v, d) for v, d in zip(outputs, data, strict=False)]
                    a.set_text(assistant_text(outputs[1]), now)
                    if kind == "process_completed":
                        a.status, a.t_end = "done", now
                elif kind == "close_stream":
                    break
                elif kind == "unexpected_error":
                    raise RuntimeError(f"gradio unexpected error: {msg.get('message')}")
        if a.t_end is None:
            raise RuntimeError("gradio stream closed before process_completed")

    async def close(self) -> None:
        pass


# --- the run -------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def dist(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def phase(name: str) -> None:
    print(f"PHASE {name} {time.time():.6f}", flush=True)


async def run(args) -> dict:
    n = min(args.n, MAX_N)
    run_id = args.run_id or uuid.uuid4().hex[:8]
    answers = [Answer(i, f"{run_id}x{i}") for i in range(n)]
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    http = aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=120)
    )
    # Several URLs (several server processes): players are dealt out round-robin.
    urls = [u for u in args.url.split(",") if u]
    if args.target == "gradio":
        clients = [GradioClient(urls[a.index % len(urls)], http, a) for a in answers]
    else:
        clients = [SocketClient(args.target, urls[a.index % len(urls)], http, a) for a in answers]

    # Phase 1: connect, bounded concurrency and time (with --arrival join, each on arrival instead).
    gate = asyncio.Semaphore(args.connect_concurrency)
    setup_deadline = time.monotonic() + args.setup_timeout

    async def setup(client, timeout: float) -> None:
        try:
            await asyncio.wait_for(client.setup(), max(0.1, timeout))
        except Exception as exc:
            client.answer.error = f"setup: {type(exc).__name__}: {exc}"[:300]

    async def setup_gated(client) -> None:
        async with gate:
            await setup(client, setup_deadline - time.monotonic())

    t_setup = time.time()
    if args.arrival != "join":
        await asyncio.gather(*(setup_gated(c) for c in clients))
    setup_seconds = time.time() - t_setup

    # Phase 2: the questions.
    phase("answer")
    cpu0, wall0 = time.process_time(), time.monotonic()
    start = time.monotonic() + args.answer_wait
    offsets = [0.0] * n if args.arrival == "once" else [i * args.spread / n for i in range(n)]

    async def ask(client, offset: float) -> None:
        a = client.answer
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
        if args.arrival == "join":
            t0 = time.monotonic()
            await setup(client, args.setup_timeout)
            a.connect_s = None if a.error else time.monotonic() - t0
        if a.error:
            return
        deadline = time.monotonic() + args.answer_timeout
        question = f"How do I get my recharge? {tag(args.pace, a.bench_id)}"
        try:
            await client.ask(question, deadline)
            a.ok = not a.error
        except Exception as exc:
            a.error = f"{type(exc).__name__}: {exc}"[:300]

    await asyncio.gather(*(ask(c, o) for c, o in zip(clients, offsets, strict=True)))
    phase("done")
    client_cpu = (time.process_time() - cpu0) / max(1e-9, time.monotonic() - wall0)
    await asyncio.gather(*(c.close() for c in clients))

    # The upstream's record of this run's answers.
    async with http.get(args.upstream.rstrip("/") + "/_bench/log") as resp:
        log = (await resp.json())["entries"]
    await http.close()
    return summarize(args, n, answers, log, setup_seconds, client_cpu)


def summarize(args, n: int, answers: list[Answer], log: dict, setup_seconds: float, client_cpu: float) -> dict:
    ttft, app_ttft, up_ttft, delays, sizes, errors = [], [], [], [], [], []
    # app_ttft's two parts: the question's way in (send -> its request at the upstream) and the
    # first chunk's way out (upstream write -> the player's first delta).
    way_in, way_out = [], []
    incomplete = 0
    gaps = sum(a.gaps for a in answers)
    chunks_delivered = 0
    intervals = []
    # BENCH_DUMP_DELAYS=<path>: every chunk's (upstream send time, delay, player, chunk index) and
    # every answer's (send time, app TTFT, player), to see when the slowest chunks and first tokens
    # happened (a burst, a stall) rather than only how slow they were.
    dump = [] if os.environ.get("BENCH_DUMP_DELAYS") else None
    firsts: list[tuple] = []  # with the dump: each answer's (send time, app TTFT, player)
    for a in answers:
        expected_chunks = plan(args.pace, a.bench_id)
        expected = "".join(c.text for c in expected_chunks)
        complete = a.ok and a.status == "done" and a.text == expected
        if a.error:
            errors.append(a.error)
        if not complete:
            incomplete += 1
        entry = log.get(f"{args.pace}-{a.bench_id}")
        if a.t_first is not None:
            ttft.append(a.t_first - a.t_send)
        if a.t_end is not None:
            intervals.append((a.t_send, a.t_end))
        if entry is None or not entry["sends"]:
            continue
        upstream_first = entry["sends"][0] - entry["arrived"]
        up_ttft.append(upstream_first)
        if a.t_first is not None:
            app_ttft.append(a.t_first - a.t_send - upstream_first)
            way_in.append(entry["arrived"] - a.t_send)
            way_out.append(a.t_first - entry["sends"][0])
            if dump is not None:
                firsts.append((a.t_send, a.t_first - a.t_send - upstream_first, a.index))
        if complete:
            sizes.append(a.bytes)
        ends = chunk_ends(args.pace, a.bench_id)
        sends = entry["sends"]
        j = 0
        for k, end in enumerate(ends):
            if k >= len(sends):
                break
            while j < len(a.marks) and a.marks[j][1] < end:
                j += 1
            if j == len(a.marks):
                break
            delays.append(a.marks[j][0] - sends[k])
            if dump is not None:
                dump.append((sends[k], a.marks[j][0] - sends[k], a.index, k))
            chunks_delivered += 1
    if dump is not None:
        sends_t = [a.t_send for a in answers if a.t_send]
        Path(os.environ["BENCH_DUMP_DELAYS"]).write_text(
            json.dumps({"t_send_min": min(sends_t, default=0), "chunks": sorted(dump), "firsts": sorted(firsts)})
        )
    # Peak number of answers in flight at once.
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    live = peak = 0
    for _, d in events:
        live += d
        peak = max(peak, live)
    first_error_kinds: dict[str, int] = {}
    for e in errors:
        key = ":".join(e.split(":")[:2]) if e.startswith("setup") else e.split(":")[0]
        first_error_kinds[key] = first_error_kinds.get(key, 0) + 1
    return {
        "target": args.target,
        "url": args.url,
        "n": n,
        "pace": args.pace,
        "arrival": args.arrival,
        "spread_s": args.spread if args.arrival in ("spread", "join") else 0,
        "errors": len(errors),
        "error_kinds": first_error_kinds,
        "error_samples": errors[:5],
        "incomplete": incomplete,
        "gaps": gaps,
        "ttft_s": dist(ttft),
        "app_ttft_s": dist(app_ttft),
        # When the first question left (unix time): the answer phase begins --answer-wait after its PHASE mark.
        "first_send_at": min((a.t_send for a in answers if a.t_send), default=None),
        "app_ttft_in_s": dist(way_in),
        "app_ttft_out_s": dist(way_out),
        "upstream_ttft_s": dist(up_ttft),
        "chunk_delay_s": dist(delays),
        "bytes_per_answer": (sum(sizes) / len(sizes)) if sizes else None,
        "chunks_delivered": chunks_delivered,
        "peak_concurrent": peak,
        "setup_s": setup_seconds,
        "connect_s": dist([a.connect_s for a in answers if a.connect_s is not None]),
        "client_cpu_share": client_cpu,
    }


def main() -> None:
    p = argparse.ArgumentParser(description="N concurrent players against csbot, the floor or gradio.")
    p.add_argument("--target", choices=["csbot", "floor", "gradio"], required=True)
    p.add_argument(
        "--url", required=True, help="the system's base URL, e.g. http://127.0.0.1:8000 (comma-separate several)"
    )
    p.add_argument("--upstream", required=True, help="the bench upstream's base URL")
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--pace", choices=["ernie", "token", "warm"], default="token")
    p.add_argument("--arrival", choices=["once", "spread", "join"], default="once")
    p.add_argument("--spread", type=float, default=10.0, help="seconds over which arrivals spread")
    p.add_argument("--answer-timeout", type=float, default=120.0, help="seconds from a send to its end")
    p.add_argument("--setup-timeout", type=float, default=180.0)
    p.add_argument("--connect-concurrency", type=int, default=50)
    p.add_argument("--run-id", default="")
    p.add_argument(
        "--answer-wait",
        type=float,
        default=0.2,
        help="seconds from the PHASE answer mark to the first question (run.py --profile-from answer: 1)",
    )
    p.add_argument("--out", default="")
    args = p.parse_args()
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
