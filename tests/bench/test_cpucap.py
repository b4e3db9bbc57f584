"""bench/cpucap.py: the CPU cap that lets a 2-core machine measure scale-out
(`bench/run.py --server-cpus`). A cap that did not hold would make one process
look like a machine of its own while it used both cores."""

from __future__ import annotations

import subprocess
import sys

from tests.servers import ROOT
from tests.services import missing

sys.path.insert(0, str(ROOT / "bench"))
import cpucap  # noqa: E402

# Two busy processes: the capped one, and a child it forks (as daphne starts its helpers)
# that outlives it by half a second.
BUSY = "import os, time\nend = time.monotonic() + (1.5 if os.fork() == 0 else 1.0)\nwhile time.monotonic() < end: pass"


def test_a_capped_process_and_the_processes_it_starts_share_the_cap():
    if not cpucap.available():
        missing("a writable CPU cgroup (root, cgroup v1 or v2)")
    cap = cpucap.CpuCap("test", 0.25)
    try:
        subprocess.run([sys.executable, "-c", BUSY], preexec_fn=cap.enter, check=True, timeout=30)
        # Uncapped, the two would have used about 2 s of CPU in that second; capped, a quarter.
        assert cap.throttled_s() > 0.5
    finally:
        cap.remove()
    assert not cap.path.exists()  # no cgroup left behind, even with the child still running at first
