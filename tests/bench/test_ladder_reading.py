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


def test_the_gradio_target_is_read_at_each_gradio_step_s_first_tokens():
    ladder = [
        step("gradio-none", 10, 0.14),
        step("gradio-none", 20, 1.00),
        step("csbot-pg", 100, 0.20),  # 140 ms is crossed at 70 chats: 7× gradio's 10
        step("csbot-pg", 200, 0.60),
        step("csbot-pg", 300, 1.40),  # 1 s at 250 chats: 12.5× gradio's 20
    ]
    report = run.against_gradio(ladder)
    assert "| 10 | 140 ms | 70 (7.0×) |" in report
    assert "| 20 | 1000 ms | 250 (12.5×) |" in report


def test_the_floor_s_ladder_is_read_beside_csbot_s_as_the_machine_s_ceiling():
    ladder = [
        step("gradio-none", 10, 0.14),
        step("floor", 100, 0.10),
        step("floor", 200, 0.18),  # 140 ms is crossed at 150 chats
        step("csbot-pg", 100, 0.20),
    ]
    report = run.against_gradio(ladder)
    assert "floor chats at that p99" in report.splitlines()[0]
    assert "| 10 | 140 ms | 150 (15.0×) | 70 (7.0×) |" in report
    assert run.against_gradio([step("gradio-none", 10, 0.14), step("floor", 100, 0.10)]) == ""


class Recorded:
    def __init__(self, name: str) -> None:
        self.name = name


def test_the_systems_take_turns_at_each_step_and_stop_at_their_first_miss(monkeypatch):
    order = []

    def measure(plan, *args, **kwargs):
        order.append((plan.system.name, plan.n))
        late = plan.n >= 50 or (plan.system.name, plan.n) == ("gradio-none", 10)  # gradio climbs on past it
        return step(plan.system.name, plan.n, 0.1, chunk_p99_s=1.0 if late else 0.01)

    monkeypatch.setattr(run, "measure", measure)
    monkeypatch.setattr(run, "SCALEOUT_LADDER", [10, 25, 50, 100])
    monkeypatch.setattr(run, "GRADIO_LADDER", [10, 20])
    largest = run.scaleout_ladder([Recorded("csbot-pg"), Recorded("gradio-none")], None, None, [])
    assert order == [("csbot-pg", 10), ("gradio-none", 10), ("gradio-none", 20), ("csbot-pg", 25), ("csbot-pg", 50)]
    assert largest == {"csbot-pg": 25, "gradio-none": 0}


def test_a_ladder_without_two_processes_reads_no_scale_out():
    ladder = [step("gradio-none", 10, 0.14), step("csbot-pg", 100, 0.20), step("csbot-embedded", 100, 0.15)]
    rows = run.targets([], {"csbot-pg": 100, "csbot-embedded": 100}, ladder)
    assert not [row for row in rows if row[0].startswith("scale-out")]


def test_a_ladder_with_both_reads_scale_out():
    ladder = [step("csbot-pg", 100, 0.20), step("csbot-pg-x2", 100, 0.15), step("csbot-pg-x2", 200, 0.22)]
    rows = run.targets([], {"csbot-pg": 100, "csbot-pg-x2": 200}, ladder)
    scale_out = dict((row[0], row[1:]) for row in rows)["scale-out: 2 processes carry ≥ 1.6× one"]
    assert scale_out == ("100 → 200 chats (no errors, chunk p99 ≤ 200 ms) = 2.00×", "met")
