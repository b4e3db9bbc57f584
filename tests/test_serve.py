"""`python -m csbot.serve` is daphne, on uvloop's event loop, writing eagerly (csbot/serve.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pprint
import resource
import socket
import struct
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import servers

SMALL = 3000  # small writes before and after the big one
BIG = 8 * 1024 * 1024  # far more than a loopback socket's buffers: most of it must wait in twisted's queue


def expected_body() -> bytes:
    head = b"".join(b"%06d\n" % i for i in range(SMALL))
    big = bytes(range(256)) * (BIG // 256)
    tail = b"".join(b"%06d\n" % i for i in range(SMALL, 2 * SMALL))
    return head + big + tail


async def application(scope, receive, send):
    """Served by the daphne under test.

    `/loop` names the class of the loop it runs on; `/body` and `/body?sized` send
    `expected_body()` in many writes (chunked, or with a Content-Length); `/forever`
    writes a line every 10 ms until the client goes away; `/hold` holds the event
    loop for 0.3 s before it answers.
    """
    if scope["type"] != "http":
        return
    path, query = scope["path"], scope["query_string"]
    if path == "/loop":
        loop = type(asyncio.get_running_loop())
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": f"{loop.__module__}.{loop.__qualname__}".encode()})
        return
    if path == "/body":
        body = expected_body()
        headers = [(b"content-type", b"application/octet-stream")]
        if query == b"sized":
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        head, big = SMALL * 7, SMALL * 7 + BIG
        parts = [body[i : i + 7] for i in range(0, head, 7)] + [body[head:big]]
        parts += [body[i : i + 7] for i in range(big, len(body), 7)]
        for part in parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/fdsize":  # the slots of this process's descriptor table (Linux)
        with open("/proc/self/status") as status:
            size = next(line.split()[1] for line in status if line.startswith("FDSize:"))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": size.encode()})
        return
    if path == "/autobahn-debug":  # what autobahn formats its debug lines' arguments with, here
        from autobahn.twisted import websocket
        from autobahn.websocket import protocol

        used = [protocol.pformat, protocol.hltype, protocol.hlval, websocket.hltype, websocket.hlval]
        names = " ".join(f"{fn.__module__}.{fn.__qualname__}" for fn in used)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": names.encode()})
        return
    if path == "/hold":
        time.sleep(0.3)  # what a blocking call on the loop would do
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"held"})
        return
    if path == "/forever":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(500):
            await send({"type": "http.response.body", "body": b"%06d\n" % i, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})


@contextlib.contextmanager
def serve(tmp_path, **env):
    port = servers.free_port()
    cmd = [sys.executable, "-m", "csbot.serve", "-b", "127.0.0.1", "-p", str(port), "tests.test_serve:application"]
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=servers.ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env})
        try:
            servers.wait_for_port(port, timeout=30, proc=proc)
            yield f"http://127.0.0.1:{port}", tmp_path / "serve.log"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def served(tmp_path):
    with serve(tmp_path) as (base, log):
        yield base, log


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def test_the_web_process_runs_daphne_on_uvloop(served):
    base, _ = served
    assert get(base + "/loop").decode() == "uvloop.Loop"


def test_autobahn_formats_its_connect_and_frame_debug_lines_only_when_they_are_logged(served):
    from autobahn import util
    from twisted.logger import formatEvent

    from csbot.autobahn_debug import _hltype, _hlval, _Pformat

    base, _ = served
    lazy = "csbot.autobahn_debug._Pformat" + " csbot.autobahn_debug._hltype csbot.autobahn_debug._hlval" * 2
    assert get(base + "/autobahn-debug").decode() == lazy
    # When debug lines are logged, the lines read as autobahn's own.
    settings = [("openHandshakeTimeout", 5, "WebSocketServerFactory"), ("autoPingSize", 4, "WebSocketServerFactory")]
    event = {"log_format": "\n{attrs}", "attrs": _Pformat(settings)}
    assert formatEvent(event) == "\n" + pprint.pformat(settings)
    sent = {"log_format": "{func} sent {data_len} bytes", "func": _hltype(get), "data_len": _hlval(42)}
    assert formatEvent(sent) == f"{util.hltype(get)} sent {util.hlval(42)} bytes"


@pytest.mark.parametrize("query", ["", "?sized"], ids=["chunked", "content-length"])
def test_a_slow_reader_gets_every_byte_in_order_when_the_server_writes_faster_than_it_reads(served, query):
    """Writes sent at once and writes queued behind a full socket must not overtake each other."""
    base, _ = served
    with urllib.request.urlopen(base + "/body" + query, timeout=30) as response:
        time.sleep(1.0)  # the server has filled the socket by now: what follows waits in its queue
        body = response.read()
    assert len(body) == len(expected_body())
    assert body == expected_body()


def test_a_reader_that_vanishes_mid_stream_leaves_the_server_serving_others(served):
    base, log_path = served
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200" in sock.recv(4096)
        # Gone without a goodbye: the next send to it fails (RST), as a dropped phone's does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.3)
    assert get(base + "/loop").decode() == "uvloop.Loop"
    with contextlib.suppress(FileNotFoundError):
        assert "Traceback" not in log_path.read_text()


def test_the_descriptor_table_is_grown_at_start_so_a_burst_of_sockets_never_waits_for_it(served):
    """Growing it later, with threads running, stops the event loop for an RCU grace period."""
    base, _ = served
    assert int(get(base + "/fdsize")) >= min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def test_with_loop_watchdog_ms_the_log_says_what_held_the_loop(tmp_path):
    with serve(tmp_path, LOOP_WATCHDOG_MS="50") as (base, log):
        assert get(base + "/hold") == b"held"
        deadline = time.monotonic() + 10
        while "behind" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = log.read_text()
    assert "event loop" in text and "ms behind" in text
    assert "tests/test_serve.py" in text and "in application" in text


def test_without_it_nothing_watches(served):
    base, log = served
    assert get(base + "/hold") == b"held"
    time.sleep(0.3)
    assert "behind" not in log.read_text()


def test_behind_a_proxy_with_proxy_headers_the_access_log_names_the_players_address(tmp_path):
    """README, Production: `--proxy-headers` behind a proxy that sets X-Forwarded-For. Without
    it every access line names the proxy, and a flood can't be traced to its sender."""
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"), HELPER_PROCESSES="0")
    server = servers.Daphne(env, tmp_path / "daphne.log", "--proxy-headers").start()
    try:
        request = urllib.request.Request(server.url + "/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
        assert urllib.request.urlopen(request, timeout=30).status == 200
        time.sleep(0.5)  # the access line follows the response
    finally:
        server.stop()

    assert "203.0.113.7:0 - - [" in server.log() and '"GET /healthz" 200' in server.log()
