"""How the scale-out ladder is read (bench/run.py): by its steps, and between them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import run  # noqa: E402  bench/run.py


def step(system: str, n: int, ttft_p99_s: float, *, chunk_p99_s: float = 0.01, errors: int = 0) -> dict:
    return {
        "system": system,
        "n": n,
        "errors": errors,
        "incomplete": 0,
        "ttft_s": {"p99": ttft_p99_s},
        "chunk_delay_s": {"p99": chunk_p99_s},
    }


LADDER = [
    step("one", 100, 0.40),
    step("one", 150, 0.60),  # 500 ms is crossed a little past 125
    step("two", 100, 0.20),
    step("two", 150, 0.30),
    step("two", 200, 0.60),  # ... and at about 183
]


def test_a_bound_between_steps_reads_where_the_first_tokens_cross_it():
    assert run.largest_carried(LADDER, "one", "ttft_s", 500) == 100
    assert run.largest_carried(LADDER, "two", "ttft_s", 500) == 150
    assert run.ttft_carried_between_steps(LADDER, "one", 500) == 125
    assert round(run.ttft_carried_between_steps(LADDER, "two", 500)) == 183


def test_a_next_step_that_failed_otherwise_is_not_read_between():
    ladder = [step("one", 100, 0.40), step("one", 150, 0.60, errors=3), step("one", 200, 0.70, chunk_p99_s=0.5)]
    assert run.ttft_carried_between_steps(ladder, "one", 500) == 100
    assert run.ttft_carried_between_steps([step("one", 100, 0.40)], "one", 500) == 100


def test_a_first_step_already_too_slow_is_read_from_zero():
    assert run.ttft_carried_between_steps([step("one", 10, 0.50)], "one", 250) == 5
