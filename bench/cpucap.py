"""A CPU cap for one server process and every process it starts: a Linux CPU cgroup.

`bench/run.py --server-cpus 0.5` runs each web process of the system under test
(csbot's with its helpers, the floor's, gradio's) in a cgroup of its own, limited
to 0.5 of a core. On a 2-core machine that is how the scale-out target can be
measured at all: uncapped, one csbot process and its helpers already use both
cores, so a second process can only share them (docs/benchmarks-history.md, "The eighth
round"). Capped, each process stands for a machine of its own size, and the
rest of the cores are left to what is shared (PostgreSQL, Redis) and to the
harness (the upstream, the load).

cgroup v2 (`cpu.max`) where the unified hierarchy has the cpu controller,
else v1 (`cpu.cfs_quota_us`). Creating a cgroup needs root, as in CI's
container and on this project's machines; `available()` says whether it works.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PERIOD_US = 100_000


def _root() -> tuple[Path, int] | None:
    v2 = Path("/sys/fs/cgroup")
    controllers = v2 / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return v2, 2
    v1 = Path("/sys/fs/cgroup/cpu")
    if (v1 / "cpu.cfs_quota_us").exists():
        return v1, 1
    return None


class CpuCap:
    """One cgroup, capped at `cpus` cores. Start a process in it with
    `Popen(..., preexec_fn=cap.enter)`; the processes it starts stay in it."""

    def __init__(self, name: str, cpus: float) -> None:
        found = _root()
        if found is None:
            raise RuntimeError("no CPU cgroup controller here: --server-cpus needs cgroup v1 or v2 with cpu")
        root, self.version = found
        if self.version == 2 and "cpu" not in (root / "cgroup.subtree_control").read_text().split():
            (root / "cgroup.subtree_control").write_text("+cpu")  # so that a child cgroup can be capped
        self.path = root / f"csbot-bench-{os.getpid()}-{name}"
        self.path.mkdir(exist_ok=True)
        quota = max(1000, int(cpus * PERIOD_US))
        if self.version == 2:
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def enter(self) -> None:
        """In the child, between fork and exec: move this process into the cgroup."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def throttled_s(self) -> float:
        """How long the cgroup was held back by its cap so far, in seconds."""
        try:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                key, value = line.split()
                if key == "throttled_usec":
                    return int(value) / 1e6
                if key == "throttled_time":  # v1: nanoseconds
                    return int(value) / 1e9
        except (OSError, ValueError):
            pass
        return 0.0

    def remove(self, wait: float = 10.0) -> None:
        """After its processes have ended: a cgroup with members can't be removed, and a
        stopped daphne's helpers leave a moment after it (when their pipe closes). Whatever
        is still in it after `wait` seconds is killed."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        for pid in (self.path / "cgroup.procs").read_text().split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        time.sleep(0.2)
        try:
            self.path.rmdir()
        except OSError:
            pass


def available() -> bool:
    try:
        cap = CpuCap("probe", 1.0)
    except (RuntimeError, OSError):
        return False
    cap.remove()
    return True
