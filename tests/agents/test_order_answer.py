"""What the player reads about an order the game backend looked up (agents/answers.py)."""

from __future__ import annotations

import pytest

from agents.answers import tool_answer
from agents.tools import ToolResult


def order(**data) -> ToolResult:
    return ToolResult(tool="order_status", ok=True, data={"order_no": "SL0000000408", **data})


def test_a_delivered_order_shows_what_the_backend_said():
    text = tool_answer(
        order(status="delivered", product="60 crystals", paid_at="2025-06-12 20:15", delivered_at="2025-06-12 20:16"),
        "en",
    )
    assert "I found your order **SL0000000408**" in text
    assert "- Product: 60 crystals" in text and "- Delivered: 2025-06-12 20:16" in text


def test_a_missing_field_is_left_out_never_shown_as_none_or_blank():
    text = tool_answer(order(status="delivered", product="60 crystals", paid_at="", delivered_at=None), "en")
    assert "None" not in text and "Paid" not in text and "Delivered:" not in text
    assert "- Product: 60 crystals" in text and "- Status: **delivered**" in text


@pytest.mark.parametrize(
    "data",
    [
        {"status": "delivered", "product": "", "paid_at": "", "delivered_at": None},  # the tester's reply
        {"product": "60 crystals", "paid_at": "2025-06-12 20:15"},  # no status
        {"status": "lost in space", "product": "60 crystals"},  # a status we cannot explain
    ],
)
def test_a_lookup_too_incomplete_to_answer_says_so_and_offers_a_human(data):
    for language, human in (("en", "Talk to a human"), ("zh-hans", "转人工客服")):
        text = tool_answer(order(**data), language)
        assert "None" not in text and human in text
        assert "incomplete" in text or "不完整" in text
