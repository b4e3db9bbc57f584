"""bench/floor_daphne.py, the floor's relay on csbot's server, relays an answer as the floor does.

It stands beside bench/floor.py in the benchmark's tables (`--systems
floor-daphne`), so it must speak the same frames: resumed, ack, one delta per
upstream chunk, end.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import run  # noqa: E402  bench/run.py
import upstream  # noqa: E402  bench/upstream.py

pytestmark = pytest.mark.timeout(120)


async def ask(url: str, question: str) -> list[dict]:
    async with connect(url.replace("http://", "ws://") + "/", compression=None) as ws:
        await ws.send(json.dumps({"type": "resume", "after_seq": 0, "streams": {}}))
        frames = [json.loads(await ws.recv())]
        await ws.send(json.dumps({"type": "send", "client_id": "c1", "text": question}))
        while frames[-1].get("type") != "end":
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        return frames


def test_the_floor_on_daphne_relays_each_upstream_chunk_as_one_delta(tmp_path):
    fake = run.Upstream(tmp_path)
    system = run.FloorDaphne()
    system.prepare(tmp_path, fake)
    try:
        running = system.start()
        try:
            frames = asyncio.run(ask(running.urls[0], "How do I get my recharge? bench-warm-floor1"))
        finally:
            running.stop()
    finally:
        fake.stop()
    assert frames[0] == {"type": "resumed", "seq": 0}
    assert frames[1] == {"type": "ack", "client_id": "c1"}
    deltas = [f["d"] for f in frames if f["type"] == "delta"]
    assert deltas == [c.text for c in upstream.plan("warm", "floor1")]
    assert frames[-1] == {"type": "end", "status": "done"}
