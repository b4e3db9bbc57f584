"""Races between real processes on PostgreSQL (tests/chat/test_*_race_postgres.py): the
workers, each a `python -m <module> <args>` that sets Django up, says `ready` and waits on
stdin for its signal, so that all of them write at once."""

from __future__ import annotations

import subprocess
import sys

from tests import servers


def last_line(output: str) -> str:
    """What a script printed (`shell` may print a banner first)."""
    return output.strip().splitlines()[-1]


def ready_workers(env: dict[str, str], module: str, *argvs: list[str]) -> list[subprocess.Popen]:
    """One worker per argument list, each set up and waiting for its signal on stdin."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", module, *argv],
            cwd=servers.ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    return workers


def signal(workers: list[subprocess.Popen]) -> None:
    """Go, to every worker, as close together as two writes get."""
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
