"""Runs the benchmark: csbot, the floor and gradio under the same loads, side by side.

    .venv/bin/python bench/run.py              # the full matrix (about 30-40 min on 2 cores)
    .venv/bin/python bench/run.py --smoke      # CI: N=10 on both csbot setups (one pace each), no timings asserted
    .venv/bin/python bench/run.py --quick      # = bench/latency.py: the latency csbot adds, N=1..10
    .venv/bin/python bench/run.py --systems floor,csbot-pg --paces token --ns 100,500

Every run starts the system under test afresh (so memory figures start from a
clean, warmed process), warms it with 5 short chats, then runs bench/load.py in
its own process. Server CPU is read from /proc between the load's
"answer" and "done" phases; memory per concurrent chat is the peak RSS during
the load minus the RSS before it, divided by the peak number of answers in
flight. Results go to bench/results/<time>.json and a markdown table is
printed. See docs/benchmarks.md for what each number means.

Systems:
- floor           bench/floor.py (websockets + aiohttp)
- floor-daphne    bench/floor_daphne.py: the same relay as a bare Channels consumer on csbot's server
- gradio-none     bench/gradio_app.py with concurrency_limit=None
- gradio-default  bench/gradio_app.py with gradio's default concurrency (1)
- csbot-embedded  daphne on the embedded default (SQLite, in-memory layer)
- csbot-pg        daphne on PostgreSQL + the Redis channel layer
- csbot-pg-x2     two daphne processes sharing that PostgreSQL and Redis
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from tests.servers import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    free_port,
    product_env,
    wait_for_port,
)

sys.path.insert(0, str(BENCH))
from cpucap import CpuCap  # noqa: E402

PY = sys.executable
# --server-cpus: each server process of the system under test (and what it starts) runs
# in a CPU cgroup capped at this many cores (bench/cpucap.py); None: uncapped.
SERVER_CPUS: dict[str, float | None] = {"cpus": None}
# --keep-db: leave each PostgreSQL database of the run in place, to read what was stored
# (messages' timings, their meta) afterwards; SQLite files stay in the results folder anyway.
KEEP_DATABASES = {"on": False}


def server_cap(name: str) -> CpuCap | None:
    return CpuCap(f"{name}-{time.monotonic_ns()}", SERVER_CPUS["cpus"]) if SERVER_CPUS["cpus"] else None


RESULTS = BENCH / "results"
KB_DOCUMENTS = 1000
SCALEOUT_LADDER = [10, 25, 50, 100, 150, 200, 300, 400, 500, 700, 1000]
SCALEOUT_P99_S = 0.2  # "carries N chats" = no errors, complete, per-chunk p99 within this


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- processes -----------------------------------------------------------------------


class Proc:
    """A helper process that prints READY <port> when it serves.

    Every process of a run (the upstream, each system under test, the load) starts
    in its own session. Where the kernel groups CPU time by session (Linux's
    autogroups, `/proc/sys/kernel/sched_autogroup_enabled`), each then gets the
    same share when the cores are busy; before 2026-11-30 csbot's daphne shared
    the load client's group while the floor and gradio had their own
    (docs/benchmarks-history.md, "The eighth round").
    """

    def __init__(
        self,
        args: list[str],
        log_path: Path,
        env: dict | None = None,
        ready_timeout: float = 90,
        cap: CpuCap | None = None,
    ) -> None:
        self.log_path, self.cap = log_path, cap
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
            preexec_fn=cap.enter if cap else None,
        )
        deadline = time.monotonic() + ready_timeout
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(b"READY"):
                self.port = int(line.split()[1])
                # Keep draining stdout so the child never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.stop()
        raise RuntimeError(f"{args[1]} did not start: {line!r}\n{log_path.read_text(errors='replace')[-2000:]}")

    def _drain(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read(4096), b""):
            self._log.write(chunk)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if self.cap:
            self.cap.remove()


class Upstream(Proc):
    def __init__(self, workdir: Path) -> None:
        super().__init__([PY, str(BENCH / "upstream.py"), "--port", "0"], workdir / "upstream.log")
        self.url = f"http://127.0.0.1:{self.port}"

    def clear_log(self) -> None:
        urllib.request.urlopen(self.url + "/_bench/log?clear=1", timeout=30).read()


# --- the product under test ----------------------------------------------------------

PRODUCT = {"dir": ROOT, "env": {}}


def snapshot_head(workdir: Path) -> Path:
    """The committed product (git HEAD), exported apart from the work tree.

    Others may be editing the work tree while a long run goes on; a run measures
    one fixed version of csbot (its commit is recorded in the results).
    """
    target = workdir / "product"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    if (ROOT / "node_modules").exists():
        (target / "node_modules").symlink_to(ROOT / "node_modules")
    return target


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "manage.py", *args],
        cwd=PRODUCT["dir"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def serve_command(product_dir: Path) -> list[str]:
    """How README runs a web process: `python -m csbot.serve` (daphne on uvloop).

    daphne's own script (asyncio's loop) with BENCH_SERVE=daphne, or for a commit
    older than csbot/serve.py (an A/B run from a worktree).
    """
    if os.environ.get("BENCH_SERVE") == "daphne" or not (Path(product_dir) / "csbot" / "serve.py").exists():
        return [str(Path(PY).parent / "daphne")]
    return [PY, "-m", "csbot.serve"]


class Daphne:
    """A daphne process serving csbot, as README's Production section runs it (serve_command)."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *, app: str = "csbot.asgi:application", cwd: Path | None = None
    ) -> None:
        self.env, self.log_path = env, log_path
        self.app, self.cwd = app, cwd or PRODUCT["dir"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.cap = server_cap("daphne")

    def start(self) -> Daphne:
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*serve_command(self.cwd), "-b", "127.0.0.1", "-p", str(self.port), self.app],
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own scheduling group, like every system's (see Proc)
            preexec_fn=self.cap.enter if self.cap else None,  # --server-cpus: it and its helpers
        )
        try:
            wait_for_port(self.port, timeout=60, proc=self.proc)
            self._wait_until_ready(timeout=120)
        except Exception:
            self.stop()
            raise RuntimeError(f"daphne did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}") from None
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        """Until /readyz says the process has warmed up and its helpers have set up.

        A load sent before measures the start-up: the helpers' set-up (jieba's dictionary,
        2 s of CPU each) on both cores, and calls in threads meanwhile. Before the tenth
        round only the port was awaited, and on a slow machine every token-pace load's
        burst landed in it (docs/benchmarks-history.md, "The tenth round"). A product older than
        /readyz (an A/B worktree) answers 404: the port is all there is to wait for.
        """
        started = time.monotonic()
        deadline = started + timeout
        while True:
            try:
                urllib.request.urlopen(self.url + "/readyz", timeout=10).read()
                log(f"{self.url} ready {time.monotonic() - started:.1f} s after its port opened")
                return
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {timeout:.0f} s: {exc.read()[:200]!r}") from None
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if self.cap:
            self.cap.remove()


# --- systems under test --------------------------------------------------------------


def write_kb_csv(path: Path, count: int = KB_DOCUMENTS) -> Path:
    """A knowledge base of `count` question/answer documents, Chinese and English."""
    rng = random.Random(7)
    topics_zh = [
        "充值",
        "退款",
        "封号",
        "申诉",
        "活动",
        "道具",
        "邮件",
        "账号",
        "密码",
        "角色",
        "装备",
        "公会",
        "副本",
        "签到",
    ]
    topics_en = [
        "recharge",
        "refund",
        "ban",
        "appeal",
        "event",
        "item",
        "mail",
        "account",
        "password",
        "guild",
        "dungeon",
    ]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["question", "answer"])
        for i in range(count):
            if i % 2:
                t = rng.sample(topics_zh, 3)
                q = f"第{i}号问题：{t[0]}和{t[1]}出现问题怎么办？"
                a = f"关于{t[0]}、{t[1]}与{t[2]}：请先重新登录游戏，然后在设置中查看{t[0]}记录。" * rng.randint(2, 6)
            else:
                t = rng.sample(topics_en, 3)
                q = f"Question {i}: what should I do about my {t[0]} and {t[1]}?"
                a = (
                    f"About {t[0]}, {t[1]} and {t[2]}: log in again, open Settings and check the {t[0]} history. "
                ) * rng.randint(2, 6)
            w.writerow([q, a])
    return path


@dataclass
class Running:
    urls: list[str]
    pids: list[int]
    stop: callable = None
    procs: list = field(default_factory=list)


class System:
    name = ""
    target = ""

    def prepare(self, workdir: Path, upstream: Upstream) -> None:
        self.workdir, self.upstream = workdir, upstream

    def start(self) -> Running:
        raise NotImplementedError

    def cleanup(self) -> None:
        pass


class Floor(System):
    name, target = "floor", "floor"

    def start(self) -> Running:
        p = Proc(
            [PY, str(BENCH / "floor.py"), "--port", "0", "--upstream", self.upstream.url],
            self.workdir / "floor.log",
            cap=server_cap("floor"),
        )
        return Running([f"http://127.0.0.1:{p.port}"], [p.pid], p.stop)


class FloorDaphne(System):
    """bench/floor_daphne.py: the floor's relay as a bare Channels consumer on csbot's server."""

    name, target = "floor-daphne", "floor"

    def start(self) -> Running:
        env = {**os.environ, "FLOOR_UPSTREAM": self.upstream.url}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        server = Daphne(env, self.workdir / "floor-daphne.log", app="bench.floor_daphne:application", cwd=ROOT)
        server.start()
        return Running([server.url], [server.proc.pid], server.stop)


class Gradio(System):
    target = "gradio"

    def __init__(self, concurrency: str) -> None:
        self.concurrency = concurrency
        self.name = f"gradio-{concurrency}"

    def start(self) -> Running:
        port = free_port()
        p = Proc(
            [
                PY,
                str(BENCH / "gradio_app.py"),
                "--port",
                str(port),
                "--upstream",
                self.upstream.url,
                "--concurrency",
                self.concurrency,
            ],
            self.workdir / f"{self.name}.log",
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
            ready_timeout=120,
            cap=server_cap(self.name),
        )
        return Running([f"http://127.0.0.1:{port}"], [p.pid], p.stop)


class Csbot(System):
    target = "csbot"

    def __init__(self, name: str, *, postgres: bool, processes: int = 1) -> None:
        self.name, self.postgres, self.processes = name, postgres, processes
        self.db_name = ""
        self.redis_url = self.prefix = ""

    def prepare(self, workdir: Path, upstream: Upstream) -> None:
        super().prepare(workdir, upstream)
        env = {
            "LLM_PROVIDER": "ernie",
            "ERNIE_BASE_URL": upstream.url,
            "ERNIE_API_KEY": "k",
            "ERNIE_SECRET_KEY": "s",
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-not-for-production",
            # With DEBUG off csbot refuses the demo secret (csbot/settings.py).
            "PLAYER_TOKEN_SECRET": "bench-player-token-secret-not-for-production",
            # ... and the demo game backend: the bench's questions call no tool.
            "GAME_BACKEND_URL": "http://127.0.0.1:9",
            "LOG_LEVEL": "WARNING",
        }
        if self.postgres:
            from tests.services import POSTGRES_URL, REDIS_URL

            self.admin_url = POSTGRES_URL
            self.db_name = f"csbot_bench_{os.getpid()}_{self.name.replace('-', '_')}"
            env["DATABASE_URL"] = create_postgres_database(POSTGRES_URL, self.db_name)
            # A Redis database of the bench's own (BENCH_REDIS_DB, 15), not the tests' one: no Celery
            # worker runs here, so the tasks csbot queues (knowledge gaps, indexing) must land where
            # nobody else's worker reads them. cleanup() empties what this run left there.
            self.redis_url = REDIS_URL.rsplit("/", 1)[0] + "/" + os.environ.get("BENCH_REDIS_DB", "15")
            env["REDIS_URL"] = self.redis_url
            # Our own channel prefix, so that other runs on the same Redis never see our groups.
            env["CHANNEL_PREFIX"] = self.prefix = f"bench{os.getpid()}{self.name.replace('-', '')}"
        else:
            env["SQLITE_PATH"] = str(workdir / f"{self.name}.sqlite3")
        env.update(PRODUCT["env"])
        self.env = product_env(**env)
        log(f"{self.name}: migrate and load a {KB_DOCUMENTS}-document knowledge base")
        manage(self.env, "migrate", "--no-input", "-v", "0")
        kb = write_kb_csv(workdir / "kb.csv") if not (workdir / "kb.csv").exists() else workdir / "kb.csv"
        manage(
            self.env, "shell", "-c", f"from agents.knowledge.importing import import_paths; import_paths([{str(kb)!r}])"
        )

    def start(self) -> Running:
        servers = []
        try:
            self.starts = getattr(self, "starts", 0) + 1
            for i in range(self.processes):
                log_path = self.workdir / f"{self.name}-{self.starts:02d}-daphne{i}.log"
                servers.append(Daphne(self.env, log_path).start())
        except Exception:
            for s in servers:
                s.stop()
            raise

        def stop() -> None:
            for s in servers:
                s.stop()

        return Running([s.url for s in servers], [s.proc.pid for s in servers], stop)

    def cleanup(self) -> None:
        if self.postgres:
            try:
                import redis

                client = redis.Redis.from_url(self.redis_url)
                keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
                for i in range(0, len(keys), 500):
                    client.delete(*keys[i : i + 500])
                client.delete("celery")  # the bench's own database: tasks no worker will read
                client.close()
            except Exception as exc:  # best effort
                log(f"could not clean Redis: {exc}")
        if self.db_name and KEEP_DATABASES["on"]:
            log(f"kept {self.db_name} (--keep-db): drop it with  dropdb -h 127.0.0.1 -U postgres {self.db_name}")
        elif self.db_name:
            try:
                drop_postgres_database(self.admin_url, self.db_name)
            except Exception as exc:  # best effort
                log(f"could not drop {self.db_name}: {exc}")


def make_systems(names: list[str]) -> list[System]:
    table = {
        "floor": lambda: Floor(),
        "floor-daphne": lambda: FloorDaphne(),
        "gradio-none": lambda: Gradio("none"),
        "gradio-default": lambda: Gradio("default"),
        "csbot-embedded": lambda: Csbot("csbot-embedded", postgres=False),
        "csbot-pg": lambda: Csbot("csbot-pg", postgres=True),
        "csbot-pg-x2": lambda: Csbot("csbot-pg-x2", postgres=True, processes=2),
    }
    unknown = set(names) - set(table)
    if unknown:
        raise SystemExit(f"unknown systems: {', '.join(sorted(unknown))} (known: {', '.join(table)})")
    return [table[n]() for n in names]


# --- measuring -----------------------------------------------------------------------


_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes (all their threads), from /proc."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


class HostBusy:
    """How many of the machine's cores were busy, sampled from /proc/stat every 50 ms.

    The run's averages hide the first-token burst, when every process of the run
    (the servers, the load, the upstream, PostgreSQL, Redis) wants a core at once. On a
    2-core machine, two capped servers can leave the shared parts too little then, and a
    scale-out reading is the machine's, not the product's (docs/benchmarks-history.md, "The
    thirteenth round").
    """

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (unix time, busy cores since the last)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _read() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    def _run(self) -> None:
        cores = os.cpu_count() or 1
        total0, idle0 = self._read()
        while not self._stop.wait(0.05):
            total, idle = self._read()
            if total > total0:
                self.samples.append((time.time(), cores * (1 - (idle - idle0) / (total - total0))))
            total0, idle0 = total, idle

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def mean(self, start: float, end: float) -> float | None:
        inside = [busy for t, busy in self.samples if start < t <= end]
        return sum(inside) / len(inside) if inside else None


def with_descendants(pids: list[int]) -> list[int]:
    """The processes and every process they started, from /proc's parent pids."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def service_pids() -> list[int]:
    """PostgreSQL and Redis server processes (shared with other users of this machine)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() in ("postgres", "redis-server"):
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def run_load(
    target: str,
    urls: list[str],
    upstream: Upstream,
    *,
    n: int,
    pace: str,
    arrival: str,
    out: Path,
    answer_timeout: float = 120,
    watch: list[int] | None = None,
    on_answer=None,
) -> dict:
    """Run bench/load.py; returns its summary plus server CPU and memory figures.

    `on_answer`, when given, is called as the connect phase ends (--profile-from answer),
    and the load then waits a second before its first question."""
    # The servers' own processes too: csbot's helper processes (csbot/helper_pool.py) do
    # part of its work, and their CPU and memory are csbot's.
    main = list(watch or [])  # the web processes themselves, without their helpers
    watch = with_descendants(main)
    services = service_pids() if watch else []
    cmd = [
        PY,
        str(BENCH / "load.py"),
        "--target",
        target,
        "--url",
        ",".join(urls),
        "--upstream",
        upstream.url,
        "--n",
        str(n),
        "--pace",
        pace,
        "--arrival",
        arrival,
        "--answer-timeout",
        str(answer_timeout),
        "--out",
        str(out),
    ]
    if on_answer is not None:
        cmd += ["--answer-wait", "1.0"]  # py-spy attaches in about 0.5 s (start_profilers)
    rss0 = rss_bytes(watch)
    peak = [rss0]
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(0.2):
            peak[0] = max(peak[0], rss_bytes(watch))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    host = HostBusy()
    host.start()
    marks: dict[str, tuple] = {}
    phase_at: dict[str, float] = {}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    # Bounded: the load has its own deadlines; this is the backstop.
    limit = time.monotonic() + 240 + answer_timeout + (10 if arrival in ("spread", "join") else 0)
    timer = threading.Timer(max(1, limit - time.monotonic()), proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            if line.startswith("PHASE"):
                _, name, at = line.split()
                phase_at[name] = float(at)  # unix time, as HostBusy's samples
                if name == "answer" and on_answer is not None:
                    on_answer()
                marks[name] = (
                    time.monotonic(),
                    cpu_seconds(watch),
                    cpu_seconds([upstream.pid]),
                    cpu_seconds(services),
                    cpu_seconds(main),
                )
        proc.wait()
    finally:
        timer.cancel()
        stop_sampling.set()
        sampler.join()
        host.stop()
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"load.py failed ({proc.returncode}): {proc.stderr.read()[-3000:]}")
    result = json.loads(out.read_text())
    if "answer" in marks and "done" in marks:
        (w0, c0, u0, s0, m0), (w1, c1, u1, s1, m1) = marks["answer"], marks["done"]
        chunks = result["chunks_delivered"] or float("nan")
        wall = max(1e-9, w1 - w0)
        result["window_s"] = wall
        result["server_cpu_s"] = c1 - c0
        # Of which the web processes' own (their event loops and threads); the rest is helpers'.
        result["server_main_cpu_s"] = m1 - m0
        result["server_cpu_ms_per_chunk"] = (c1 - c0) * 1000 / chunks if watch and chunks == chunks else None
        result["server_cpu_share"] = (c1 - c0) / wall
        result["upstream_cpu_share"] = (u1 - u0) / wall
        result["services_cpu_ms_per_chunk"] = (s1 - s0) * 1000 / chunks if services and chunks == chunks else None
        # The whole machine from the first question sent until the p99 first token, and over the load.
        first = result.get("first_send_at")
        p99 = (result.get("ttft_s") or {}).get("p99")
        result["host_busy_cores_first_tokens"] = host.mean(first, first + max(0.1, p99)) if first and p99 else None
        result["host_busy_cores"] = host.mean(phase_at["answer"], phase_at["done"])
    concurrent = max(1, result.get("peak_concurrent") or n)
    result["rss_before_mb"] = rss0 / 2**20
    result["rss_peak_mb"] = peak[0] / 2**20
    result["kb_per_chat"] = (peak[0] - rss0) / 1024 / concurrent if watch else None
    return result


@dataclass
class Plan:
    system: System
    pace: str
    arrival: str
    n: int


PROFILE = {"on": False, "from": "connect"}


def start_profilers(pids: list[int], stem: Path) -> list[subprocess.Popen]:
    """py-spy sampling each server process during the load (collapsed stacks, for flame graphs)."""
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    procs = []
    for i, pid in enumerate(pids):
        out = stem.with_name(f"{stem.name}-p{i}.collapsed")
        procs.append(
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--subprocesses",  # csbot's helper processes (csbot/helper_pool.py)
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(out),
                    "--nonblocking",
                    # e.g. BENCH_PYSPY_ARGS=--gil: only the thread holding the GIL (CPU, not waits)
                    *os.environ.get("BENCH_PYSPY_ARGS", "").split(),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    time.sleep(0.5)
    return procs


def stop_profilers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def measure(plan: Plan, upstream: Upstream, workdir: Path, answer_timeout: float, rep: int = 0) -> dict:
    s = plan.system
    label = f"{s.name} {plan.pace}/{plan.arrival} N={plan.n}" + (f" (run {rep + 1})" if rep else "")
    log(f"start {label}")
    started = time.time()
    running = s.start()
    try:
        warm = run_load(
            s.target,
            running.urls,
            upstream,
            n=5,
            pace="warm",
            arrival="once",
            out=workdir / "warmup.json",
            answer_timeout=30,
        )
        if warm["errors"] or warm["incomplete"]:
            log(f"warm-up of {s.name} had {warm['errors']} errors: {warm['error_samples'][:2]}")
        upstream.clear_log()
        out = workdir / f"{s.name}-{plan.pace}-{plan.arrival}-{plan.n}{f'-run{rep + 1}' if rep else ''}.json"
        spies: list[subprocess.Popen] = []

        def start_spies() -> None:
            spies.extend(start_profilers(running.pids, out.with_suffix("")))

        if PROFILE["on"] and PROFILE["from"] == "connect":
            start_spies()
        # --profile-from answer: the questions alone, not the page loads and connects before them.
        on_answer = start_spies if PROFILE["on"] and PROFILE["from"] == "answer" else None
        try:
            result = run_load(
                s.target,
                running.urls,
                upstream,
                n=plan.n,
                pace=plan.pace,
                arrival=plan.arrival,
                out=out,
                answer_timeout=answer_timeout,
                watch=running.pids,
                on_answer=on_answer,
            )
        finally:
            stop_profilers(spies)
    finally:
        running.stop()
    result.update(
        system=s.name, processes=len(running.pids), load_avg=os.getloadavg(), took_s=time.time() - started, rep=rep
    )
    log(
        f"done  {label}: errors={result['errors']} incomplete={result['incomplete']} "
        f"app_ttft_p99={fmt_ms(result['app_ttft_s'].get('p99'))} chunk_p99={fmt_ms(result['chunk_delay_s'].get('p99'))}"
        + (  # --arrivals join: how long an arriving player waited for the page, the socket and its resume
            f" connect_p50/p99={fmt_ms(result['connect_s']['p50'])}/{fmt_ms(result['connect_s']['p99'])}"
            if result.get("connect_s", {}).get("n")
            else ""
        )
    )
    return result


# --- reporting -----------------------------------------------------------------------


def fmt_ms(v) -> str:
    if v is None:
        return "–"
    ms = v * 1000
    return f"{ms:.0f}" if abs(ms) >= 10 else f"{ms:.1f}"


def fmt(v, digits=2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def find(results: list[dict], system: str, pace: str, arrival: str, n: int) -> dict | None:
    for r in results:
        if (r["system"], r["pace"], r["arrival"], r["n"]) == (system, pace, arrival, n):
            return r
    return None


def table(results: list[dict]) -> str:
    head = (
        "| system | pace | arrivals | N | errors | incomplete | app TTFT p50/p95/p99 ms | TTFT p99 ms "
        "| chunk delay p50/p95/p99 ms "
        "| bytes/answer | CPU ms/chunk | KB/chat | chunk p99 × floor | CPU × floor | bytes × floor |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        floor = find(results, "floor", r["pace"], r["arrival"], r["n"])
        a, c = r["app_ttft_s"], r["chunk_delay_s"]

        def ratio(key, sub=None, r=r, floor=floor):
            if floor is None or r["system"] == "floor":
                return "–"
            x = r[key].get(sub) if sub else r.get(key)
            y = floor[key].get(sub) if sub else floor.get(key)
            if x is None or not y:
                return "–"
            return f"{x / y:.1f}"

        lines.append(
            f"| {r['system']} | {r['pace']} | {r['arrival']} | {r['n']} | {r['errors']} | {r['incomplete']} "
            f"| {fmt_ms(a.get('p50'))} / {fmt_ms(a.get('p95'))} / {fmt_ms(a.get('p99'))} "
            f"| {fmt_ms(r['ttft_s'].get('p99'))} "
            f"| {fmt_ms(c.get('p50'))} / {fmt_ms(c.get('p95'))} / {fmt_ms(c.get('p99'))} "
            f"| {fmt(r.get('bytes_per_answer'), 0)} | {fmt(r.get('server_cpu_ms_per_chunk'), 3)} "
            f"| {fmt(r.get('kb_per_chat'), 0)} "
            f"| {ratio('chunk_delay_s', 'p99')} | {ratio('server_cpu_ms_per_chunk')} | {ratio('bytes_per_answer')} |"
        )
    return "\n".join(lines)


def targets(results: list[dict], scaleout: dict | None, ladder: list[dict] | None = None) -> list[tuple[str, str, str]]:
    """(target, what was measured, met/missed/not run)."""
    out = []
    for system in ("csbot-embedded", "csbot-pg", "csbot-pg-x2"):
        r = find(results, system, "ernie", "spread", 1000)
        if r is None:
            continue
        out.append(
            (
                f"{system}, ERNIE pace, 1000 over 10 s: no errors",
                f"{r['errors']} errors, {r['incomplete']} incomplete",
                "met" if r["errors"] == 0 and r["incomplete"] == 0 else "missed",
            )
        )
        v = r["app_ttft_s"].get("p95")
        out.append(
            (
                f"{system}, ERNIE pace: added TTFT p95 ≤ 50 ms",
                f"{fmt_ms(v)} ms",
                "met" if v is not None and v <= 0.05 else "missed",
            )
        )
        v = r["chunk_delay_s"].get("p99")
        out.append(
            (
                f"{system}, ERNIE pace: added per-chunk p99 ≤ 50 ms",
                f"{fmt_ms(v)} ms",
                "met" if v is not None and v <= 0.05 else "missed",
            )
        )
    for system in ("csbot-embedded", "csbot-pg"):
        for n in (100, 500):
            r, f = find(results, system, "token", "once", n), find(results, "floor", "token", "once", n)
            if r is None or f is None:
                continue
            x, y = r["chunk_delay_s"].get("p99"), f["chunk_delay_s"].get("p99")
            if x is not None and y:
                out.append(
                    (
                        f"{system}, token pace N={n}: chunk p99 ≤ 2× floor",
                        f"{fmt_ms(x)} vs {fmt_ms(y)} ms = {x / y:.1f}×",
                        "met" if x <= 2 * y else "missed",
                    )
                )
            x, y = r.get("server_cpu_ms_per_chunk"), f.get("server_cpu_ms_per_chunk")
            if x is not None and y:
                out.append(
                    (
                        f"{system}, token pace N={n}: CPU/chunk ≤ 3× floor",
                        f"{x:.3f} vs {y:.3f} ms = {x / y:.1f}×",
                        "met" if x <= 3 * y else "missed",
                    )
                )
    for system in ("csbot-embedded", "csbot-pg"):
        for pace, arrival in (("token", "once"), ("ernie", "spread")):
            # At N=10: a run with lost frames has answers that resumed (one big delta), fewer bytes.
            r, f = find(results, system, pace, arrival, 10), find(results, "floor", pace, arrival, 10)
            if r and f and r.get("gaps") == 0 and r.get("bytes_per_answer") and f.get("bytes_per_answer"):
                x, y = r["bytes_per_answer"], f["bytes_per_answer"]
                out.append(
                    (
                        f"{system}, {pace} pace: bytes/answer ≤ 1.3× floor",
                        f"{x:.0f} vs {y:.0f} B = {x / y:.2f}×",
                        "met" if x <= 1.3 * y else "missed",
                    )
                )
    # At ERNIE pace the upstream itself "thinks" 0.5-1 s before its first chunk, at random: the
    # p99 of the whole time to first chunk is mostly the slowest of those draws, so the systems
    # are compared by the time they add to it (app TTFT). At token pace the upstream's own is a
    # constant 50 ms, and the whole time is compared.
    for pace, arrival, key in (("token", "once", "ttft_s"), ("ernie", "spread", "app_ttft_s")):
        what = "TTFT" if key == "ttft_s" else "added TTFT"
        for g in ("gradio-none", "gradio-default"):
            for n in (10, 100):
                gr = find(results, g, pace, arrival, n)
                # The floor at 10× gradio's N: what a relay doing nothing else gets on this machine.
                fl = find(results, "floor", pace, arrival, n * 10)
                floor_note = f" (the floor: {fmt_ms(fl[key].get('p99'))} ms)" if fl else ""
                for system in ("csbot-embedded", "csbot-pg"):
                    cs = find(results, system, pace, arrival, n * 10)
                    if gr and cs and gr[key].get("p99") is not None and cs[key].get("p99") is not None:
                        x, y = cs[key]["p99"], gr[key]["p99"]
                        ok = x <= y and cs["errors"] == 0 and cs["incomplete"] == 0
                        out.append(
                            (
                                f"{system} at N={n * 10} vs {g} at N={n}, {pace} pace: {what} p99 no worse",
                                f"{fmt_ms(x)} vs {fmt_ms(y)} ms{floor_note}",
                                "met" if ok else "missed",
                            )
                        )
    climbed = {r["system"] for r in ladder or ()}
    if scaleout and {"csbot-pg", "csbot-pg-x2"} <= climbed:  # a ladder without them reads no scale-out
        one, two = scaleout.get("csbot-pg"), scaleout.get("csbot-pg-x2")
        if one is not None and two is not None:
            what = f"{one} → {two} chats (no errors, chunk p99 ≤ {SCALEOUT_P99_S * 1000:.0f} ms)"
            if one:
                out.append(
                    (
                        "scale-out: 2 processes carry ≥ 1.6× one",
                        f"{what} = {two / one:.2f}×",
                        "met" if two >= 1.6 * one else "missed",
                    )
                )
            else:
                out.append(
                    (
                        "scale-out: 2 processes carry ≥ 1.6× one",
                        f"{what}: one process carried none",
                        "missed" if not two else "met",
                    )
                )
        # Chunk p99 alone flatters a process that keeps its streams smooth by making new
        # questions wait (csbot does: its helpers are niced): at the same time to first token too.
        for ms in LADDER_TTFT_P99_MS if ladder else ():
            one, two = (largest_carried(ladder, name, "ttft_s", ms) for name in ("csbot-pg", "csbot-pg-x2"))
            if one:
                out.append(
                    (
                        f"scale-out at TTFT p99 ≤ {ms:,} ms (and chunk p99 ≤ {SCALEOUT_P99_S * 1000:.0f} ms)",
                        f"{one} → {two} chats = {two / one:.2f}×",
                        "met" if two >= 1.6 * one else "missed",
                    )
                )
            one, two = (ttft_carried_between_steps(ladder, name, ms) for name in ("csbot-pg", "csbot-pg-x2"))
            if one:
                out.append(
                    (
                        f"scale-out at TTFT p99 ≤ {ms:,} ms, read between the steps",
                        f"{one:.0f} → {two:.0f} chats = {two / one:.2f}×",
                        "met" if two >= 1.6 * one else "missed",
                    )
                )
    return out


DISTRIBUTIONS = ("app_ttft_s", "ttft_s", "upstream_ttft_s", "chunk_delay_s")
MEDIANS = ("bytes_per_answer", "server_cpu_ms_per_chunk", "kb_per_chat", "peak_concurrent")
SUMS = ("errors", "incomplete", "gaps")


def combine(results: list[dict]) -> list[dict]:
    """One result per (system, pace, arrivals, N): with --repeat, each figure the median of
    its runs (each percentile apart), errors added up, and every run's chunk p99 kept."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["system"], r["pace"], r["arrival"], r["n"]), []).append(r)
    out = []
    for runs in groups.values():
        if len(runs) == 1:
            out.append(runs[0])
            continue
        r = dict(runs[0])
        for key in DISTRIBUTIONS:
            points = {p for run in runs for p in run.get(key, {})}
            r[key] = {p: _median([run.get(key, {}).get(p) for run in runs]) for p in points}
        for key in MEDIANS:
            r[key] = _median([run.get(key) for run in runs])
        for key in SUMS:
            r[key] = sum(run.get(key) or 0 for run in runs)
        r["runs"] = len(runs)
        r["chunk_p99_runs_s"] = [run.get("chunk_delay_s", {}).get("p99") for run in runs]
        out.append(r)
    return out


def _median(values: list) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def report(results: list[dict], scaleout: dict | None, path: Path, ladder: list[dict] | None = None) -> str:
    text = table(results)
    repeated = [r for r in results if r.get("runs")]
    if repeated:
        text += "\n\nMedians of several runs; chunk p99 of each run (ms): " + "; ".join(
            f"{r['system']} {r['pace']} N={r['n']}: " + ", ".join(fmt_ms(v) for v in r["chunk_p99_runs_s"])
            for r in repeated
        )
    t = targets(results, scaleout, ladder)
    if t:
        text += "\n\n| target | measured | |\n|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in t)
    if scaleout:
        text += "\n\nScale-out ladder (largest N carried): " + ", ".join(f"{k}: {v}" for k, v in scaleout.items())
    text += f"\n\nRaw results: {path.resolve().relative_to(ROOT)}"
    return text


# --- modes ---------------------------------------------------------------------------


def default_plans(systems: list[System], ns: list[int], paces: list[str], arrivals: str = "") -> list[Plan]:
    """Every system at every pace and N; arrivals as the issue has them (token pace all at
    once, ERNIE pace over 10 s) unless `arrivals` names one for all."""
    plans = []
    arrival_for = {pace: arrivals for pace in paces} if arrivals else {"token": "once", "ernie": "spread"}
    for pace in paces:
        for s in systems:
            for n in ns:
                if s.name == "gradio-default" and n > 10:
                    continue  # one chat at a time: N=100 would take 100 answers end to end
                if s.name == "gradio-none" and n > 100:
                    continue  # 40 worker threads: N=500 queues for minutes
                plans.append(Plan(s, pace, arrival_for[pace], n))
    return plans


LADDER_P99_MS = (10, 25, 50, 100, 200)
LADDER_TTFT_P99_MS = (250, 500, 1000, 2000, 5000)


def carried(r: dict, p99_bound_s: float) -> bool:
    """A load the system carried: no errors, every answer complete, chunk p99 within the bound."""
    p99 = r["chunk_delay_s"].get("p99")
    return not (r["errors"] or r["incomplete"] or p99 is None or p99 > p99_bound_s)


def largest_carried(ladder: list[dict], system: str, key: str, bound_ms: float) -> int:
    """The largest N of the ladder that `system` carried with the p99 of `key` within the bound
    (no errors, complete answers, and every smaller N carried too). By time to first token
    (`key="ttft_s"`), a load counts only if its chunk p99 was within SCALEOUT_P99_S as well."""
    best = 0
    for r in sorted((r for r in ladder if r["system"] == system), key=lambda r: r["n"]):
        p99 = r.get(key, {}).get("p99")
        chunk_bound = bound_ms / 1000 if key == "chunk_delay_s" else SCALEOUT_P99_S
        if not carried(r, chunk_bound) or p99 is None or p99 > bound_ms / 1000:
            break
        best = r["n"]
    return best


def ttft_carried_between_steps(ladder: list[dict], system: str, bound_ms: float) -> float:
    """largest_carried by time to first token, read between the ladder's steps: where the
    TTFT p99 reaches the bound on the straight line from the last step carried to the next
    (largest_carried itself when every step was carried, or when the next failed on errors
    or late chunks rather than on first tokens).

    The steps are coarse (100, 150, 200, 300…): a bound just past one system's step and
    just short of the other's reads as 1.0× when their first tokens are 1.7× apart.
    """
    best = largest_carried(ladder, system, "ttft_s", bound_ms)
    rows = sorted((r for r in ladder if r["system"] == system), key=lambda r: r["n"])
    above = next((r for r in rows if r["n"] > best), None)
    if above is None or not carried(above, SCALEOUT_P99_S):
        return float(best)
    below = next((r for r in rows if r["n"] == best), None)
    n0, t0 = (best, below["ttft_s"]["p99"]) if below is not None else (0, 0.0)
    n1, t1 = above["n"], above["ttft_s"]["p99"]  # t1 > bound >= t0
    return n0 + (n1 - n0) * (bound_ms / 1000 - t0) / (t1 - t0)


def ladder_table(ladder: list[dict], key: str = "chunk_delay_s", bounds_ms: tuple = LADDER_P99_MS) -> str:
    """largest_carried for each system and bound."""
    lines = [
        "| system | " + " | ".join(f"p99 ≤ {ms:,} ms" for ms in bounds_ms) + " |",
        "|---" * (len(bounds_ms) + 1) + "|",
    ]
    for name in dict.fromkeys(r["system"] for r in ladder):
        cells = [str(largest_carried(ladder, name, key, ms)) for ms in bounds_ms]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ladder_report(ladder: list[dict]) -> str:
    gradio, busy = against_gradio(ladder), host_busy_line(ladder)
    return (
        "\n"
        + table(ladder)
        + "\n\nChats carried, by chunk p99 bound:\n\n"
        + ladder_table(ladder)
        + "\n\nChats carried, by time to first token p99 bound (and chunk p99 within "
        + f"{SCALEOUT_P99_S * 1000:.0f} ms):\n\n"
        + ladder_table(ladder, "ttft_s", LADDER_TTFT_P99_MS)
        + (f"\n\nAgainst gradio, at each of its steps' TTFT p99:\n\n{gradio}" if gradio else "")
        + (f"\n\nCores of the machine busy until the p99 first token: {busy}" if busy else "")
    )


# gradio answers each chat in one of 40 threads, and its first tokens pass a second
# at a few dozen chats: its ladder needs the small steps.
GRADIO_LADDER = [5, 10, 15, 20, 30, 40, 50, 70, 100]


def scaleout_ladder(systems: list[System], upstream: Upstream, workdir: Path, results: list[dict]) -> dict:
    """Each system's ladder, token pace, all at once, until a step isn't carried.

    The systems take turns at each step (floor 10, csbot-pg 10, csbot-pg-x2 10, floor 25…)
    rather than one whole ladder after the other: a machine that slows down for a few
    minutes then hits every system's same steps, not one system's top half.
    """
    steps = {s.name: GRADIO_LADDER if s.name.startswith("gradio") else SCALEOUT_LADDER for s in systems}
    largest = {s.name: 0 for s in systems}
    late: set[str] = set()  # gradio ladders that went on past a step with late chunks
    climbing = list(systems)
    for n in sorted({n for ladder in steps.values() for n in ladder}):
        for s in list(climbing):
            if n not in steps[s.name]:
                continue
            r = measure(Plan(s, "token", "once", n), upstream, workdir, answer_timeout=60)
            r["scaleout"] = True
            results.append(r)
            if carried(r, SCALEOUT_P99_S):
                if s.name not in late:  # "carried N": every step up to N carried
                    largest[s.name] = n
            elif s.name.startswith("gradio") and not (r["errors"] or r["incomplete"]):
                late.add(s.name)  # gradio climbs on: its target is read by first tokens alone
            else:
                climbing.remove(s)
    return largest


def against_gradio(ladder: list[dict]) -> str:
    """The gradio target read off the ladders: at each gradio step's TTFT p99, how many chats
    each csbot setup carried with its first tokens as soon (ttft_carried_between_steps)."""
    gradio = sorted(
        (r for r in ladder if r["system"] == "gradio-none" and not (r["errors"] or r["incomplete"])),
        key=lambda r: r["n"],
    )
    # The floor, when its ladder was climbed too, shows what a bare relay carries on the same
    # machine: a ratio it misses is out of reach of anything that does more per question.
    ours = [name for name in dict.fromkeys(r["system"] for r in ladder) if name.startswith(("csbot", "floor"))]
    if not gradio or not any(name.startswith("csbot") for name in ours):
        return ""
    lines = [
        "| gradio (`concurrency_limit=None`) chats | its TTFT p99 | "
        + " | ".join(f"{name} chats at that p99 (× gradio's)" for name in ours)
        + " |",
        "|---" * (len(ours) + 2) + "|",
    ]
    for g in gradio:
        bound_ms = g["ttft_s"]["p99"] * 1000
        cells = []
        for name in ours:
            n = ttft_carried_between_steps(ladder, name, bound_ms)
            cells.append(f"{n:.0f} ({n / g['n']:.1f}×)")
        lines.append(f"| {g['n']} | {fmt_ms(g['ttft_s']['p99'])} ms | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def host_busy_line(ladder: list[dict]) -> str:
    """The machine's busy cores until each step's p99 first token (HostBusy)."""
    cells = [
        f"{r['system']} {r['n']}: {r['host_busy_cores_first_tokens']:.2f}"
        for r in ladder
        if r.get("host_busy_cores_first_tokens") is not None
    ]
    return ", ".join(cells)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--smoke",
        action="store_true",
        help="N=10 on both csbot setups, one pace each; assert no errors, complete answers",
    )
    p.add_argument("--quick", action="store_true", help="the latency csbot adds at N=1..10 (issue 2)")
    p.add_argument("--systems", default="floor,csbot-embedded,csbot-pg,csbot-pg-x2,gradio-none,gradio-default")
    p.add_argument("--ns", default="10,100,500,1000")
    p.add_argument("--paces", default="token,ernie")
    p.add_argument(
        "--arrivals",
        choices=["once", "spread", "join"],
        default="",
        help="for every load (default: token pace once, ERNIE pace spread); join: each player connects "
        "on arrival, spread over 10 s, while the earlier ones stream (bench/load.py)",
    )
    p.add_argument(
        "--scaleout", choices=["yes", "no"], default="yes", help="find how many chats 1 and 2 processes carry"
    )
    p.add_argument(
        "--ladder-systems",
        default="floor,csbot-pg,csbot-pg-x2",
        help="the systems whose ladders --scaleout climbs (of --systems); with gradio-none, the gradio "
        "target is read off the ladders too",
    )
    p.add_argument("--answer-timeout", type=float, default=120)
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every load this many times, round the whole list; the tables give each figure's median",
    )
    p.add_argument(
        "--profile", action="store_true", help="record py-spy stacks of every server process during each load"
    )
    p.add_argument(
        "--profile-from",
        choices=["connect", "answer"],
        default="connect",
        help="--profile from the players' connects (default) or from their questions on",
    )
    p.add_argument(
        "--product",
        default=None,
        help="csbot as committed (head: git HEAD, exported; default for full and quick runs), the work tree "
        "as it is (tree: default for --smoke), or another checkout's directory (an A/B against a worktree)",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for csbot's processes, e.g. --env INTENT_LLM=off (repeatable)",
    )
    p.add_argument(
        "--server-cpus",
        type=float,
        default=None,
        metavar="CORES",
        help="cap each server process of the systems under test, with what it starts, at this many cores "
        "(a CPU cgroup, bench/cpucap.py; needs root): on a small machine, how scale-out can be measured",
    )
    p.add_argument(
        "--keep-db", action="store_true", help="keep the PostgreSQL databases (the run's messages) for reading"
    )
    p.add_argument("--report", metavar="JSON", help="print the tables of an earlier run's results file and exit")
    args = p.parse_args()
    if args.report:
        data = json.loads(Path(args.report).read_text())
        main_results = combine([r for r in data["results"] if not r.get("scaleout")])
        ladder = [r for r in data["results"] if r.get("scaleout")]
        print(report(main_results, data.get("scaleout"), Path(args.report), ladder))
        if data.get("scaleout"):
            print(ladder_report(ladder))
        return 0
    PROFILE["on"] = args.profile
    PROFILE["from"] = args.profile_from
    SERVER_CPUS["cpus"] = args.server_cpus
    KEEP_DATABASES["on"] = args.keep_db
    PRODUCT["env"] = dict(item.split("=", 1) for item in args.env)
    # A terminated run still stops what it started and drops its databases.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))

    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    workdir = RESULTS / f"{stamp}-{mode}"
    workdir.mkdir()
    if args.smoke:
        systems = make_systems(["csbot-embedded", "csbot-pg"])
        # Each setup at one pace (each plan starts its servers afresh, most of a plan's time):
        # the embedded default at token pace, PostgreSQL + Redis at ERNIE's.
        embedded, postgres = systems
        plans = [Plan(embedded, "token", "once", 10), Plan(postgres, "ernie", "once", 10)]
    elif args.quick:
        systems = make_systems(
            args.systems.split(",") if args.systems != p.get_default("systems") else ["csbot-embedded"]
        )
        plans = [Plan(s, pace, "once", n) for s in systems for pace in ("token", "ernie") for n in (1, 5, 10)]
    else:
        systems = make_systems(args.systems.split(","))
        plans = default_plans(systems, [int(x) for x in args.ns.split(",")], args.paces.split(","), args.arrivals)

    product = args.product or ("tree" if args.smoke else "head")
    if product == "head":
        PRODUCT["dir"] = snapshot_head(workdir)
    elif product != "tree":
        PRODUCT["dir"] = Path(product).resolve()
        if not (PRODUCT["dir"] / "manage.py").exists():
            p.error(f"--product {product}: not a csbot checkout")
    try:
        commit = subprocess.run(
            # Another checkout's own commit; HEAD's (exported) or the work tree's otherwise.
            [
                "git",
                "-C",
                str(PRODUCT["dir"] if product not in ("head", "tree") else ROOT),
                "rev-parse",
                "--short",
                "HEAD",
            ],
            capture_output=True,
            text=True,
        )
    except OSError:  # no git: a tarball of the tree
        commit = subprocess.CompletedProcess([], 1, "", "")
    info = {
        "product": product,
        "commit": commit.stdout.strip() or None,
        "product_env": PRODUCT["env"],
        "started": stamp,
        "mode": mode,
        "argv": sys.argv[1:],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_start": os.getloadavg(),
        "server_cpus": args.server_cpus,
    }
    results: list[dict] = []
    scaleout = None
    upstream = Upstream(workdir)
    out_path = RESULTS / f"{stamp}-{mode}.json"
    try:
        for s in systems:
            s.prepare(workdir, upstream)
        # Repeats go round the whole list, so that every system's runs are spread over the
        # same stretch of time (a machine that slows down for a minute hits them all).
        for rep in range(args.repeat):
            for plan in plans:
                try:
                    results.append(measure(plan, upstream, workdir, args.answer_timeout, rep))
                except Exception as exc:
                    log(f"FAILED {plan.system.name} {plan.pace} N={plan.n}: {exc}")
                    results.append(
                        {
                            "system": plan.system.name,
                            "pace": plan.pace,
                            "arrival": plan.arrival,
                            "n": plan.n,
                            "rep": rep,
                            "failed": str(exc)[:2000],
                            "errors": plan.n,
                            "incomplete": plan.n,
                            "app_ttft_s": {},
                            "ttft_s": {},
                            "chunk_delay_s": {},
                        }
                    )
                out_path.write_text(json.dumps({"info": info, "results": results}, indent=1))
        if mode == "full" and args.scaleout == "yes":
            # The floor's ladder is the machine's: what a relay doing nothing else carries here.
            chosen = [s for s in systems if s.name in args.ladder_systems.split(",")]
            if any(s.name != "floor" for s in chosen):
                scaleout = scaleout_ladder(chosen, upstream, workdir, results)
    finally:
        upstream.stop()
        for s in systems:
            s.cleanup()
    info["load_avg_end"] = os.getloadavg()
    out_path.write_text(json.dumps({"info": info, "results": results, "scaleout": scaleout}, indent=1))
    main_results = [r for r in results if not r.get("scaleout")]
    ladder = [r for r in results if r.get("scaleout")]
    print(report(combine(main_results), scaleout, out_path, ladder))
    if scaleout:
        print(ladder_report(ladder))
    if args.smoke:
        bad = [r for r in results if r.get("failed") or r["errors"] or r["incomplete"]]
        for r in bad:
            print(
                f"SMOKE FAILURE: {r['system']} {r['pace']} N={r['n']}: "
                f"errors={r['errors']} incomplete={r['incomplete']} "
                f"{r.get('failed') or r.get('error_samples')}",
                file=sys.stderr,
            )
        if bad or len(results) != len(plans) * args.repeat:
            return 1
        print(f"smoke: {len(results)} runs, no errors, every answer complete")
    shutil.rmtree(workdir / "__pycache__", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
