"""`python -m csbot.serve` is daphne, on uvloop's event loop (csbot/serve.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request

from tests import servers


async def application(scope, receive, send):
    """Served by the daphne under test: names the class of the loop it runs on."""
    if scope["type"] != "http":
        return
    loop = type(asyncio.get_running_loop())
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": f"{loop.__module__}.{loop.__qualname__}".encode()})


def test_the_web_process_runs_daphne_on_uvloop(tmp_path):
    port = servers.free_port()
    cmd = [sys.executable, "-m", "csbot.serve", "-b", "127.0.0.1", "-p", str(port), "tests.test_serve:application"]
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=servers.ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            servers.wait_for_port(port, timeout=30, proc=proc)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                assert response.read().decode() == "uvloop.Loop"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
