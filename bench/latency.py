"""The time to first token and the per-chunk delay csbot adds on top of the fake ERNIE upstream.

    .venv/bin/python bench/latency.py            # csbot on the embedded default, N = 1, 5, 10
    .venv/bin/python bench/latency.py --systems csbot-pg

Same as ``bench/run.py --quick``: both paces, all players arriving at once; it
prints the added time to first token (the player's send to the first delta,
minus the upstream's own time to its first chunk) and the added delay of every
chunk (receipt minus the upstream's send_time), at p50/p95/p99.
"""

import sys

from run import main

if __name__ == "__main__":
    sys.argv.insert(1, "--quick")
    sys.exit(main())
