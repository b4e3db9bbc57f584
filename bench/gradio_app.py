"""A typical alternative: a gradio ChatInterface streaming from the same upstream.

The generator is what a gradio tutorial would write: `requests` with
``stream=True``, one upstream request per answer, yielding the text so far after
each chunk. Gradio runs a sync generator on its worker threads and streams the
outputs to the browser over its queue protocol (``/gradio_api/queue/join`` and
the SSE ``/gradio_api/queue/data``).

Run: ``python bench/gradio_app.py --port 8921 --upstream http://127.0.0.1:8900
[--concurrency default|none]`` (prints ``READY <port>`` once it serves).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.request

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import requests

MODEL_PATH = "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"


def build(upstream: str, concurrency: str) -> gr.ChatInterface:
    upstream = upstream.rstrip("/")
    token = requests.post(
        f"{upstream}/oauth/2.0/token",
        params={"grant_type": "client_credentials", "client_id": "k", "client_secret": "s"},
        timeout=10,
    ).json()["access_token"]
    http = requests.Session()
    # requests' default pool keeps 10 connections per host; gradio's worker
    # threads share this session, so give it room for all of them.
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=1000)
    http.mount("http://", adapter)

    def answer(message: str, history: list):
        body = {"messages": [{"role": "user", "content": message}], "stream": True}
        text = ""
        with http.post(
            upstream + MODEL_PATH, params={"access_token": token}, json=body, stream=True, timeout=60
        ) as resp:
            for line in resp.iter_lines(chunk_size=None):
                if not line.startswith(b"data:"):
                    continue
                chunk = json.loads(line[5:].decode("utf-8"))
                if chunk.get("result"):
                    text += chunk["result"]
                    yield text
                if chunk.get("is_end"):
                    break

    kwargs = {}
    if concurrency == "none":
        kwargs["concurrency_limit"] = None
    return gr.ChatInterface(answer, title="bench", **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description="gradio ChatInterface over the bench upstream")
    parser.add_argument("--port", type=int, default=8921)
    parser.add_argument("--upstream", default="http://127.0.0.1:8900")
    parser.add_argument("--concurrency", choices=["default", "none"], default="default")
    args = parser.parse_args()
    demo = build(args.upstream, args.concurrency)
    # The queue with its defaults (default_concurrency_limit=1 unless the event says otherwise).
    demo.queue()
    demo.launch(server_name="127.0.0.1", server_port=args.port, prevent_thread_lock=True, quiet=True, show_error=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{args.port}/gradio_api/info", timeout=2).read()
            break
        except OSError:
            time.sleep(0.2)
    print(f"READY {args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(0.5):
        pass
    demo.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
