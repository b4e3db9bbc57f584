"""The benchmark harness in CI: its smoke mode only (N=10, no timings asserted).

`bench/run.py --smoke` runs csbot under daphne on the embedded default and on
PostgreSQL + the Redis channel layer, against the bench's fake ERNIE upstream,
with 10 players (the embedded default at token pace, PostgreSQL at ERNIE's), and
exits non-zero unless every answer arrived complete and without error. See docs/benchmarks.md.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.servers import ROOT
from tests.services import require_postgres, require_redis

pytestmark = pytest.mark.timeout(900)


def test_bench_smoke_runs_clean():
    require_postgres()
    require_redis()
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert proc.returncode == 0, f"bench smoke failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    assert "every answer complete" in proc.stdout
