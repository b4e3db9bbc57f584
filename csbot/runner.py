"""Which web process runs an answer: a name for this process, the same in its helpers.

A bot answer's row is stored `streaming` by a call that this process claimed the
answer for (chat/streaming/jobs.py: answer_claim), in one of its helpers, and its job
then runs here. The row records this name (`meta["runner"]`), so that when a helper
dies during that call, after storing the row but before the job started, this
process, and only this one, can tell the row has nobody to finish it: its registry
knows whether a job of the conversation runs here, and no other process ever runs
an answer stored under this name (chat/streaming/recovery.py).

The pid alone could be reused by a later process (a container restart); the random
part can't.
"""

from __future__ import annotations

import os
import secrets
import socket

_name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def runner_name() -> str:
    return _name


def runner_adopt(name: str) -> None:
    """In a helper process: its web process's name (csbot/helper_pool.py passes it at spawn)."""
    global _name
    _name = name
