"""What opening the chat page costs a web process: server CPU per page load.

    .venv/bin/python bench/page_load.py                   # PostgreSQL + Redis, 1,000 loads
    .venv/bin/python bench/page_load.py --embedded        # SQLite + in-memory layer
    .venv/bin/python bench/page_load.py --product tree    # the work tree instead of HEAD

Every player loads `/` before their socket opens (a signed cookie, the page in
their language). bench/run.py leaves that out of its measurements: its players
load the page before the window in which CPU per chunk is counted. Here one
daphne process (csbot.serve, as in production) serves `--loads` GETs of the
page, `--concurrency` at a time, from a returning player (the cookie of the
first load), and the web process's CPU (helpers included, though the page
does not use them) is divided by the loads. The first `--warm` loads are not
counted: they fill the page's fragment cache and the connection pool.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))


async def load_pages(url: str, loads: int, concurrency: int, language: str) -> tuple[float, list[float]]:
    """GET the page `loads` times; returns the wall time and each load's latency (s)."""
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.get(url, headers={"Accept-Language": language}) as resp:
            resp.raise_for_status()
            cookie = resp.cookies["csbot_player"].value
        headers = {"Accept-Language": language, "Cookie": f"csbot_player={cookie}"}
        latencies: list[float] = []
        slots = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with slots:
                t0 = time.perf_counter()
                async with session.get(url, headers=headers) as resp:
                    body = await resp.read()
                    if resp.status != 200 or b'id="chat-app"' not in body:
                        raise RuntimeError(f"GET / -> HTTP {resp.status}")
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(loads)))
        return time.perf_counter() - t0, latencies


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--embedded", action="store_true", help="SQLite and the in-memory layer")
    p.add_argument("--loads", type=int, default=1000)
    p.add_argument("--warm", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--language", default="en")
    p.add_argument("--product", choices=["head", "tree"], default="head")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for csbot (repeatable)")
    args = p.parse_args()

    import run  # bench/run.py: the same product setup as the load benchmark

    run.PRODUCT["env"] = dict(item.split("=", 1) for item in args.env)
    workdir = Path(tempfile.mkdtemp(prefix="csbot-page-load-"))
    if args.product == "head":
        run.PRODUCT["dir"] = run.snapshot_head(workdir)
    upstream = run.Upstream(workdir)
    system = run.Csbot("page-load", postgres=not args.embedded)
    try:
        system.prepare(workdir, upstream)
        running = system.start()
        try:
            url = running.urls[0] + "/"
            pids = run.with_descendants(running.pids)
            asyncio.run(load_pages(url, args.warm, args.concurrency, args.language))
            cpu0 = run.cpu_seconds(pids)
            wall, latencies = asyncio.run(load_pages(url, args.loads, args.concurrency, args.language))
            cpu = run.cpu_seconds(pids) - cpu0
        finally:
            running.stop()
    finally:
        upstream.stop()
        system.cleanup()
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    setup = "SQLite" if args.embedded else "PostgreSQL"
    print(f"page loads: {args.loads} ({args.concurrency} at a time), {setup}, language {args.language}")
    print(f"server CPU per page load: {cpu * 1000 / args.loads:.2f} ms")
    print(f"loads per second: {args.loads / wall:.0f}; latency p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
