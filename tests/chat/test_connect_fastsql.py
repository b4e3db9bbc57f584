"""A player's connect path through csbot/fastsql.py reads and stores what the ORM would,
on SQLite (the embedded default) and on PostgreSQL (production)."""

from __future__ import annotations

from tests import servers
from tests.chat.connect_path_scenario import run


def after(seqs: list[int]) -> dict:
    return {"seqs": seqs, "differ": [], "frames_same": True}


EXPECTED = {
    "players": {"created": True, "created_at_set": True, "by_pk": [[], []], "missing": True},
    "conversations": {"new": [], "new_language": "zh", "again_same": True, "newest": [], "newest_is_another": True},
    "messages": {
        "after": {
            # seq 2 is the internal note; 5 is still streaming.
            "0/False": after([1, 3, 4, 5]),
            "0/True": after([1, 2, 3, 4, 5]),
            "1/True": after([2, 3, 4, 5]),
            "2/False": after([3, 4, 5]),
            "5/True": after([]),
        },
        # A fresh connect's resume: no streams, no query.
        "by_no_ids": {"messages": [], "queries": 0},
        "by_ids": [4, 5],
    },
}


def test_the_connect_path_reads_and_stores_like_the_orm_would_on_sqlite(db):
    assert run() == EXPECTED


def test_the_connect_path_reads_and_stores_like_the_orm_would_on_postgresql(production_env):
    assert servers.scenario_printed(production_env, "tests.chat.connect_path_scenario") == EXPECTED
