"""The answer path's hand-built SQL (csbot/fastsql.py) stores and reads what the ORM would,
on SQLite (the embedded default) and on PostgreSQL (production)."""

from __future__ import annotations

from tests import servers
from tests.chat.answer_path_scenario import run

EXPECTED = {
    "connect": {"open_conversation_is_this_one": True, "after_a_close_a_new_one": True, "seen_stored": True},
    "answer": {
        "checkpointed": "Check the",
        # A checkpoint that lands after the final write changes nothing.
        "text": "Check the order page, 订单页面.",
        "status": "done",
        "numbers": [120, 900, 10, 20],
        "meta": {"asked": ["order_no"], "sources": [{"n": 1, "title": "Top-ups"}]},
        "finished": True,
    },
    "asked_meta": {
        "client": "web",
        "sentiment": {"score": -0.2, "level": "calm", "escalate": False},
        "intent": "recharge_not_arrived",
    },
    "next_question": {
        "seqs": [4, 5],
        "reply": ["streaming", True],
        "stored": ["bot", "streaming", ""],
        "known": {"language": "en", "facts": {"server": "S3", "order_no": "SL1"}},
        "same_context_as_read": True,
    },
    "conversation": ["recharge_not_arrived", {"server": "S3", "order_no": "SL1"}],
    "context": {
        # The staff-only note is not part of what the LLM sees.
        "history": [["user", "Where is my top-up?"], ["assistant", "Check the order page, 订单页面."]],
        "user_id_is_public_id": True,
        "facts": {"server": "S3", "order_no": "SL1"},
        "message_meta": {
            "client": "web",
            "sentiment": {"score": -0.2, "level": "calm", "escalate": False},
            "intent": "recharge_not_arrived",
        },
        "last_bot": {
            "status": "done",
            "error": "",
            "meta": {"asked": ["order_no"], "sources": [{"n": 1, "title": "Top-ups"}]},
        },
        "asked": ["order_no"],
        "question": "Where is my top-up?",
    },
}


def test_an_answer_is_stored_and_read_back_like_the_orm_would_on_sqlite(db):
    assert run() == EXPECTED


def test_an_answer_is_stored_and_read_back_like_the_orm_would_on_postgresql(production_env):
    assert servers.scenario_printed(production_env, "tests.chat.answer_path_scenario") == EXPECTED
