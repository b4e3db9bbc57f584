"""Functions that tests/test_helper_pool.py runs in helper processes (importable by name)."""

from __future__ import annotations

import os


def who_runs_me() -> tuple[int, int]:
    """The process's id and niceness."""
    return os.getpid(), os.nice(0)


def refuse(reason: str) -> None:
    raise ValueError(reason)


def die() -> None:
    os._exit(3)  # as if the kernel had killed the helper (out of memory)


def die_after(seconds: float) -> None:
    import time

    time.sleep(seconds)
    die()


def count_players() -> int:
    from chat.models import Player

    return Player.objects.count()


def modules_loaded(names: list[str]) -> list[str]:
    """Which of these modules the helper has imported."""
    import sys

    return [name for name in names if name in sys.modules]


def pause(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return time.monotonic()


def finish_time() -> float:
    """When the helper ran this (the clock is the machine's, the same in every process)."""
    import time

    return time.monotonic()


def finish_time_of_a_connect() -> float:
    return finish_time()


def finish_time_of_a_question() -> float:
    return finish_time()


def runner() -> str:
    """The web process whose jobs run the answers this helper stores (csbot/runner.py)."""
    from csbot.runner import runner_name

    return runner_name()


def echo(value):
    """The value back: what crosses the pipe both ways."""
    return value
