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


def count_players() -> int:
    from chat.models import Player

    return Player.objects.count()


def modules_loaded(names: list[str]) -> list[str]:
    """Which of these modules the helper has imported."""
    import sys

    return [name for name in names if name in sys.modules]
