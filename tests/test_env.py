"""Settings read from the environment (csbot/env.py)."""

from __future__ import annotations

from csbot.env import env_float, env_int, env_str


def test_an_empty_variable_reads_as_unset(monkeypatch):
    """What docker-compose passes for `${NAME:-}` when the operator set nothing."""
    monkeypatch.setenv("CSBOT_TEST_URL", "")
    monkeypatch.setenv("CSBOT_TEST_N", " ")

    assert env_str("CSBOT_TEST_URL", "https://qianfan.baidubce.com/v2") == "https://qianfan.baidubce.com/v2"
    assert env_int("CSBOT_TEST_N", 3) == 3 and env_float("CSBOT_TEST_N", 0.5) == 0.5


def test_a_set_variable_is_read_as_it_is(monkeypatch):
    monkeypatch.setenv("CSBOT_TEST_URL", "http://127.0.0.1:9000/v1")

    assert env_str("CSBOT_TEST_URL", "https://qianfan.baidubce.com/v2") == "http://127.0.0.1:9000/v1"
