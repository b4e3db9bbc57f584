"""daphne on uvloop's event loop: `python -m csbot.serve -b 0.0.0.0 -p 8000 csbot.asgi:application`.

The arguments are daphne's own (`--help`). Why uvloop: a daphne process spends
much of its CPU in the event loop itself (asyncio's `_run_once`, selectors, the
wake-ups of worker-thread results); on uvloop the same load ran with about a
seventh less CPU per chunk and a fraction of the queueing (docs/benchmarks.md,
"The fourth round"). daphne makes its loop when `daphne.server` is imported
(twisted's asyncio reactor runs on it), so the policy must be set before that
import, which daphne's own `daphne` script can't do. Its sockets write eagerly
(csbot/eager_writes.py; `EAGER_WRITES=0` turns that off, for comparison).
"""

from __future__ import annotations

import asyncio


def main() -> None:
    import uvloop

    from csbot.env import env_bool

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if env_bool("EAGER_WRITES", True):
        from csbot import eager_writes

        eager_writes.install()
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
