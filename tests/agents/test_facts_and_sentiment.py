"""Facts taken from what the player wrote and checked; how upset the player sounds."""

from __future__ import annotations

import pytest

from agents.catalogue import get_catalogue
from agents.facts import check_form_values, extract, validate
from agents.sentiment import score_text, should_escalate

pytestmark = pytest.mark.django_db


@pytest.fixture
def facts(demo_brain):
    return get_catalogue().facts


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("我的订单号是sl2025061201，昨天买的", "order_no", "SL2025061201"),
        ("order ＳＬ２０２５０６１２０２ please", "order_no", "SL2025061202"),
        # The formats the help article (demo_kb/recharge.*.md) tells players to look for.
        ("Google Play says GPA.3372-1234-5678-12345.", "order_no", "GPA.3372-1234-5678-12345"),
        ("订单号 gpa.3372-1234-5678-12345..0 是续订的", "order_no", "GPA.3372-1234-5678-12345..0"),
        ("Apple's receipt: order ID mt5k9a7xz2", "order_no", "MT5K9A7XZ2"),
        ("官网订单SF-202506120001没到账", "order_no", "SF-202506120001"),
        ("我在三服，用的安卓手机", "server", "S3"),
        ("I play on s2 with my iphone", "device", "iOS"),
        ("玩家ID：10086", "player_id", "10086"),
        ("bought it 2025-06-12 20:15", "purchase_time", "2025-06-12 20:15"),
    ],
)
def test_a_fact_is_found_inside_a_message(facts, text, name, value):
    assert extract(facts[name], text) == value


def test_a_fact_is_not_found_where_it_is_not(facts):
    assert extract(facts["order_no"], "my order number is 12345") is None
    assert extract(facts["order_no"], "a mysterious charge, order SF-2025") is None  # a word, a short number
    assert extract(facts["server"], "the class is OP") is None
    assert extract(facts["device"], "pcs of gear") is None


def test_a_value_is_checked_and_put_in_its_canonical_form(facts):
    assert validate(facts["order_no"], " sl2025061201 ") == "SL2025061201"
    assert validate(facts["order_no"], "SL123") is None
    for typed in ("GPA.1234-5678-9012-34567", "SF-123456789012", "MT5K9A7XZ2", "SL2025061201"):
        assert validate(facts["order_no"], typed) == typed


def test_the_order_forms_example_is_no_real_order(facts):
    """The placeholder shows the format; a demo order's number there reads like a real one."""
    from agents.demo_backend import PLAYERS

    example = facts["order_no"].placeholder
    assert validate(facts["order_no"], example) == example
    assert all(example not in player["orders"] for player in PLAYERS.values())
    assert validate(facts["server"], "晨曦") == "S1"
    assert validate(facts["server"], "S9") is None


def test_a_form_names_the_fields_to_correct(facts):
    valid, errors = check_form_values([facts["order_no"], facts["server"]], {"order_no": "SL12", "server": "s2"})
    assert valid == {"server": "S2"}
    assert errors == {"order_no": "invalid"}


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("充值还没到账", "calm"),
        ("thanks, that helped", "calm"),
        ("怎么还没到账，有点着急", "upset"),
        ("i'm annoyed, where are my crystals", "upset"),
        ("你们这破游戏太垃圾了，骗钱！！", "angry"),
        ("THIS IS RIDICULOUS, still no crystals", "angry"),
    ],
)
def test_sentiment_levels(text, level):
    assert score_text(text).level == level


def test_anger_escalates_at_once_and_being_upset_after_three_messages():
    assert should_escalate(score_text("什么垃圾客服，骗子"), [])
    upset = score_text("怎么还没到账，有点着急")
    assert not should_escalate(upset, [])
    assert not should_escalate(upset, [0.2, -0.4])
    assert should_escalate(upset, [-0.4, -0.5])
