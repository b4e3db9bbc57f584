"""bench/cpucap.py: the CPU cap that lets a 2-core machine measure scale-out
(`bench/run.py --server-cpus`). A cap that did not hold would make one process
look like a machine of its own while it used both cores."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.servers import ROOT
from tests.services import missing

sys.path.insert(0, str(ROOT / "bench"))
import cpucap  # noqa: E402

CAP = 0.05  # of a core: low enough that two busy processes exceed it on a machine at load 20 too

# Two busy processes: the capped one, and a child it forks (as daphne starts its helpers)
# that outlives it. Each spins until it has had its share of CPU, not for a time, and
# prints the CPU it used in all: the cap stretches the time, never the work.
BUSY = """import os, time
child = os.fork() == 0
end = time.process_time() + (0.04 if child else 0.02)
while time.process_time() < end:
    pass
print(time.process_time(), flush=True)"""


def test_a_capped_process_and_the_processes_it_starts_share_the_cap():
    if not cpucap.available():
        missing("a writable CPU cgroup (root, cgroup v1 or v2)")
    cap = cpucap.CpuCap("test", CAP)
    try:
        started = time.monotonic()
        # Returns once both have ended: the child holds the output pipe open until it does.
        done = subprocess.run(
            [sys.executable, "-c", BUSY], preexec_fn=cap.enter, check=True, timeout=60, capture_output=True, text=True
        )
        took = time.monotonic() - started
    finally:
        cap.remove()
    assert not cap.path.exists()  # no cgroup left behind, even with the child still running at first

    used = sum(float(seconds) for seconds in done.stdout.split())
    # Uncapped, the two spin through their ~0.1 s of CPU within half a second on a quiet machine.
    # Capped, they share a twentieth of a core: two seconds. A busy machine only stretches the
    # time further, so the bound is on CPU per second, not on seconds.
    assert used / took <= CAP * 1.6, f"{used:.3f} s of CPU in {took:.2f} s: over a cap of {CAP} of a core"
