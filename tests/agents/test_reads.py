"""What one network read of an upstream stream relays (agents/providers/reads.py)."""

from __future__ import annotations

import json

from agents.providers.base import Delta, Finish, ProviderError
from agents.providers.reads import items_of_read


def read(kind: str, text: str, more: bool) -> list:
    """A provider's reading of one SSE line: {"t": text} a delta, {"end": 1} a finish,
    {"bad": 1} an error (retryable only before any text)."""
    chunk = json.loads(text)
    if "bad" in chunk:
        raise ProviderError("upstream error", retryable=not more, code="bad")
    items = [Delta(chunk["t"])] if "t" in chunk else []
    return items + ([Finish()] if "end" in chunk else [])


def lines(*chunks: dict) -> list:
    return [("data", json.dumps(chunk, ensure_ascii=False)) for chunk in chunks]


def test_the_chunks_of_one_read_go_out_as_one_delta():
    items, error = items_of_read(lines({"t": "充值"}, {"t": "未到账"}, {"t": "？"}), read)

    assert (items, error) == ([Delta("充值未到账？")], None)


def test_the_read_that_holds_the_last_chunk_ends_with_its_finish_and_nothing_after():
    items, error = items_of_read(lines({"t": "a"}, {"t": "b", "end": 1}, {"t": "after the end"}), read)

    assert (items, error) == ([Delta("ab"), Finish()], None)


def test_an_error_in_a_read_comes_after_the_text_before_it_and_is_not_retryable():
    items, error = items_of_read(lines({"t": "partial "}, {"t": "text"}, {"bad": 1}), read)

    assert items == [Delta("partial text")]
    assert error.code == "bad" and not error.retryable


def test_an_error_first_in_a_read_is_retryable_and_relays_nothing():
    items, error = items_of_read(lines({"bad": 1}), read)

    assert items == [] and error.retryable
