"""The floor: the least a WebSocket relay of an LLM stream can do.

A `websockets` server that, for each question, opens one streaming request to
the upstream with a shared aiohttp session and forwards each upstream chunk as
one frame. No database, no channel layer, no resume: whatever csbot costs above
this is the price of its features.

It speaks the subset of csbot's protocol (docs/protocol.md) the load client uses:
    -> {"type":"resume",...}             <- {"type":"resumed","seq":0}
    -> {"type":"send","client_id","text"} <- {"type":"ack","client_id"}
                                         <- {"type":"delta","d":text} per upstream chunk
                                         <- {"type":"end","status":"done"|"failed"}

Run: ``python bench/floor.py --port 8911 --upstream http://127.0.0.1:8900``
(prints ``READY <port>``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal

import aiohttp
from websockets.asyncio.server import serve

MODEL_PATH = "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"


class Relay:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None
        self.token = ""

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=60),
        )
        params = {"grant_type": "client_credentials", "client_id": "k", "client_secret": "s"}
        async with self.session.post(f"{self.upstream}/oauth/2.0/token", params=params) as resp:
            self.token = (await resp.json(content_type=None))["access_token"]

    async def answer(self, ws, text: str) -> None:
        assert self.session is not None
        body = {"messages": [{"role": "user", "content": text}], "stream": True}
        status = "failed"
        try:
            async with self.session.post(
                self.upstream + MODEL_PATH, params={"access_token": self.token}, json=body
            ) as resp:
                async for line in resp.content:
                    if not line.startswith(b"data:"):
                        continue
                    chunk = json.loads(line[5:])
                    if chunk.get("result"):
                        await ws.send(json.dumps({"type": "delta", "d": chunk["result"]}, ensure_ascii=False))
                    if chunk.get("is_end"):
                        status = "done"
                        break
        except (aiohttp.ClientError, TimeoutError, ValueError):
            status = "failed"
        await ws.send(json.dumps({"type": "end", "status": status}))

    async def handler(self, ws) -> None:
        tasks: set[asyncio.Task] = set()
        try:
            async for message in ws:
                frame = json.loads(message)
                kind = frame.get("type")
                if kind == "resume":
                    await ws.send('{"type":"resumed","seq":0}')
                elif kind == "send":
                    await ws.send(json.dumps({"type": "ack", "client_id": frame["client_id"]}))
                    task = asyncio.create_task(self.answer(ws, frame["text"]))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif kind == "ping":
                    await ws.send('{"type":"pong"}')
        except Exception:  # a client that goes away mid-answer
            pass
        finally:
            for task in tasks:
                task.cancel()


async def main_async(host: str, port: int, upstream: str) -> None:
    relay = Relay(upstream)
    await relay.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # compression=None: like daphne, no permessage-deflate; max_queue/ping defaults kept.
    async with serve(relay.handler, host, port, compression=None, backlog=4096) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"READY {bound}", flush=True)
        await stop.wait()
    await relay.session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="The floor: a minimal websockets + aiohttp relay.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8911)
    parser.add_argument("--upstream", default="http://127.0.0.1:8900")
    args = parser.parse_args()
    if os.environ.get("BENCH_FLOOR_LOOP") == "uvloop":  # a reference: the floor on csbot's event loop
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main_async(args.host, args.port, args.upstream))


if __name__ == "__main__":
    main()
