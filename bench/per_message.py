"""What one player message costs csbot: CPU and database queries per chat, one chat at a time.

    .venv/bin/python bench/per_message.py                 # PostgreSQL + Redis, 100 chats
    .venv/bin/python bench/per_message.py --embedded      # SQLite + in-memory layer
    .venv/bin/python bench/per_message.py --profile 40    # + yappi's top functions (CPU, every thread)
    .venv/bin/python bench/per_message.py --profile 40 --profile-phase answer   # only from send to end
    PM_CALLERS=pkgutil.py:resolve_name .venv/bin/python bench/per_message.py --profile 5   # who calls it
    PM_MAIN=1 .venv/bin/python bench/per_message.py --profile 40   # only the event loop's thread

The load benchmarks (bench/run.py) show *that* a process saturates; this shows
*where* a chat's CPU goes, without the noise of a thousand concurrent chats. Each
chat is what bench/load.py does for one player: GET the page (cookie), open the
socket, resume, send one question, read the answer to its `end`, disconnect.
The chats run in this process against csbot's ASGI application (no daphne, no
network to the browser side); the fake ERNIE upstream (bench/upstream.py,
`warm` pace: 5 quick chunks) runs in its own process. CPU is this process's,
every thread included (time.process_time); on PostgreSQL, the server's CPU
too (every backend on the machine, from /proc). The work csbot's helper processes do
in production (csbot/helper_pool.py) runs here in its threads instead
(HELPER_PROCESSES=0 unless --env says otherwise), so that the CPU and the
profile include it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))


PROFILE_PHASE = ""  # "answer": yappi runs only from each send to its end (--profile-phase)
in_threads = {"cpu": 0.0}  # CPU inside csbot's worker-thread calls so far (child_main times them)


def parent(args) -> int:
    import run  # bench/run.py: the same product setup as the load benchmark

    workdir = Path(tempfile.mkdtemp(prefix="csbot-per-message-"))
    upstream = run.Upstream(workdir)
    system = run.Csbot("per-message", postgres=not args.embedded)
    run.PRODUCT["env"] = {"HELPER_PROCESSES": "0", **dict(item.split("=", 1) for item in args.env)}
    try:
        system.prepare(workdir, upstream)
        cmd = [sys.executable, __file__, "--child", "--chats", str(args.chats), "--profile", str(args.profile)]
        cmd += ["--profile-phase", args.profile_phase]
        return subprocess.run(cmd, cwd=ROOT, env=system.env).returncode
    finally:
        upstream.stop()
        system.cleanup()


async def one_chat(application, i: int, cpu: dict[str, float] | None = None) -> tuple[float, float]:
    """One player's chat. `cpu` adds up the process CPU of its phases:
    connect (page, socket, resume), answer (send to end), disconnect."""
    from channels.testing import WebsocketCommunicator
    from django.test import AsyncClient

    cpu = {} if cpu is None else cpu
    cpu0 = time.process_time()

    page = await AsyncClient().get("/", headers={"accept-language": "en"})
    assert page.status_code == 200, page.status_code
    cookie = page.cookies["csbot_player"].value
    ws = WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[
            (b"cookie", f"csbot_player={cookie}".encode()),
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
        ],
    )
    connected, _ = await ws.connect(timeout=30)
    assert connected
    await ws.send_to(text_data=json.dumps({"type": "resume", "after_seq": 0, "streams": {}}))
    while json.loads(await ws.receive_from(30)).get("type") != "resumed":
        pass
    if PROFILE_PHASE == "answer":
        import yappi

        yappi.start()
    cpu1, threads1 = time.process_time(), in_threads["cpu"]
    cpu["connect"] = cpu.get("connect", 0.0) + cpu1 - cpu0
    sent = time.perf_counter()
    question = f"How do I get my recharge? bench-warm-pm{i}x{uuid.uuid4().hex[:6]}"
    await ws.send_to(text_data=json.dumps({"type": "send", "client_id": uuid.uuid4().hex, "text": question}))
    first = None
    while True:
        frame = json.loads(await ws.receive_from(30))
        if os.environ.get("PM_DEBUG"):
            print(frame)
        if frame.get("t") == "d" and first is None:
            first = time.perf_counter()
        if frame.get("type") == "end":
            assert frame["status"] == "done", frame
            break
    cpu2 = time.process_time()
    if PROFILE_PHASE == "answer":
        import yappi

        yappi.stop()
    cpu["answer"] = cpu.get("answer", 0.0) + cpu2 - cpu1
    cpu["answer in threads"] = cpu.get("answer in threads", 0.0) + in_threads["cpu"] - threads1
    await ws.disconnect()
    cpu["disconnect"] = cpu.get("disconnect", 0.0) + time.process_time() - cpu2
    return (first or time.perf_counter()) - sent, time.perf_counter() - sent


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL server process on the machine (backends included), or 0."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if name.startswith("postgres"):
            total += (int(rest[11]) + int(rest[12])) / tick  # utime, stime
    return total


async def child_main(args) -> None:
    import django

    os.environ["ALLOWED_HOSTS"] = "localhost,testserver"  # Django's test client calls itself testserver
    django.setup()
    from django.db.backends.signals import connection_created

    from csbot.asgi import application

    queries = {"n": 0}

    def count(execute, sql, params, many, context):
        queries["n"] += 1
        if os.environ.get("PM_SQL"):
            queries.setdefault("sql", __import__("collections").Counter())[sql[:150]] += 1
        return execute(sql, params, many, context)

    def install(sender, connection, **kwargs):
        if count not in connection.execute_wrappers:  # the wrapper object outlives its connections
            connection.execute_wrappers.append(count)

    connection_created.connect(install, weak=False)

    # CPU spent inside csbot's worker-thread calls (csbot/db.py), apart from the event loop's.
    from csbot import db

    plain_in_thread = getattr(db, "_in_thread", None)  # commits before 0bddd3c used sync_to_async: not timed

    def timed_in_thread(*args):
        started = time.thread_time()
        try:
            return plain_in_thread(*args)
        finally:
            in_threads["cpu"] += time.thread_time() - started

    if plain_in_thread is not None:
        db._in_thread = timed_in_thread
    for i in range(10):  # warm: imports, the index, the provider's token, connection pools
        await one_chat(application, i)
    global PROFILE_PHASE
    if args.profile:
        import yappi

        yappi.set_clock_type("cpu")
        if args.profile_phase == "all":
            yappi.start()
        else:
            PROFILE_PHASE = args.profile_phase
    cpu0, wall0, q0, t0 = time.process_time(), time.perf_counter(), queries["n"], in_threads["cpu"]
    pg0 = postgres_cpu()
    firsts, totals, phases = [], [], {}
    for i in range(args.chats):
        first, total = await one_chat(application, 1000 + i, phases)
        firsts.append(first)
        totals.append(total)
    cpu, wall, nq = time.process_time() - cpu0, time.perf_counter() - wall0, queries["n"] - q0
    pg = postgres_cpu() - pg0
    if args.profile and args.profile_phase == "all":
        yappi.stop()
    print(f"chats: {args.chats}, database: {'PostgreSQL' if os.environ.get('DATABASE_URL') else 'SQLite'}")
    print(f"CPU per chat: {1000 * cpu / args.chats:.1f} ms (wall {1000 * wall / args.chats:.1f} ms)")
    # Work a chat leaves behind (the dashboard's row batch) lands in whichever phase runs then.
    print("  of which: " + ", ".join(f"{name} {1000 * t / args.chats:.1f} ms" for name, t in phases.items()))
    print(f"  in csbot's worker-thread calls (csbot/db.py): {1000 * (in_threads['cpu'] - t0) / args.chats:.1f} ms")
    print(f"queries per chat: {nq / args.chats:.1f}")
    if os.environ.get("DATABASE_URL"):  # the server's side of those queries (every backend on the machine)
        print(f"PostgreSQL CPU per chat: {1000 * pg / args.chats:.1f} ms")
    print(f"send -> first delta: median {1000 * statistics.median(firsts):.1f} ms (upstream: ~1 ms)")
    if queries.get("sql"):
        for sql, n in queries["sql"].most_common(40):
            print(f"{n / (args.chats + 10):8.1f}  {sql}")
    if args.profile:
        # PM_MAIN=1: only the event loop's thread (what a burst of questions waits for).
        main_ctx = [t.id for t in yappi.get_thread_stats() if t.name == "_MainThread"]
        main_only = {"ctx_id": main_ctx[0]} if os.environ.get("PM_MAIN") else None
        stats = yappi.get_func_stats(filter=main_only)
        stats.sort("ttot")
        rows = [s for s in stats if "site-packages" not in s.module and "python3.11" not in s.module]
        print(f"\n-- ours, by total CPU per chat (ms), top {args.profile} --")
        for s in rows[: args.profile]:
            where = s.module.replace(str(ROOT) + "/", "")
            print(f"{1000 * s.ttot / args.chats:8.2f} {s.ncall / args.chats:7.1f}x  {where}:{s.name}")
        if os.environ.get("PM_CALLERS"):  # who calls a function: PM_CALLERS=<module:name as printed>
            wanted, callers = os.environ["PM_CALLERS"], []
            for s in stats:
                for child in s.children:
                    if f"{child.module}:{child.name}".endswith(wanted):
                        callers.append((child.ncall, f"{s.module}:{s.name}"))
            print(f"\n-- callers of {wanted} (calls per chat) --")
            for ncall, where in sorted(callers, reverse=True)[:20]:
                print(f"{ncall / args.chats:7.1f}x  {where.split('site-packages/')[-1]}")
        stats.sort("tsub")
        print(f"\n-- anything, by own CPU per chat (ms), top {args.profile} --")
        for s in list(stats)[: args.profile]:
            where = s.module.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
            print(f"{1000 * s.tsub / args.chats:8.2f} {s.ncall / args.chats:7.1f}x  {where}:{s.name}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--embedded", action="store_true", help="SQLite and the in-memory layer instead of PG + Redis")
    p.add_argument("--chats", type=int, default=100)
    p.add_argument("--profile", type=int, default=0, metavar="TOP", help="profile with yappi; print TOP functions")
    p.add_argument(
        "--profile-phase", choices=("all", "answer"), default="all", help="profile every phase or only send to end"
    )
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        asyncio.run(child_main(args))
        return 0
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
