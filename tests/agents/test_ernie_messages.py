import random

from agents.providers.base import ChatMessage
from agents.providers.ernie import build_ernie_messages


def user(text: str) -> ChatMessage:
    return ChatMessage("user", text)


def bot(text: str) -> ChatMessage:
    return ChatMessage("assistant", text)


def roles(messages: list[dict[str, str]]) -> list[str]:
    return [m["role"] for m in messages]


def test_an_alternating_history_is_sent_as_it_is():
    history = [user("充值没到账"), bot("请提供订单号"), user("订单号 123")]
    assert build_ernie_messages(history, 10_000) == [
        {"role": "user", "content": "充值没到账"},
        {"role": "assistant", "content": "请提供订单号"},
        {"role": "user", "content": "订单号 123"},
    ]


def test_consecutive_turns_of_one_role_are_merged():
    history = [user("你好"), user("在吗"), bot("在的"), bot("请问有什么可以帮你"), user("退款")]
    assert build_ernie_messages(history, 10_000) == [
        {"role": "user", "content": "你好\n在吗"},
        {"role": "assistant", "content": "在的\n请问有什么可以帮你"},
        {"role": "user", "content": "退款"},
    ]


def test_a_leading_assistant_greeting_is_dropped():
    assert roles(build_ernie_messages([bot("欢迎！"), user("你好")], 10_000)) == ["user"]


def test_a_trailing_assistant_turn_is_dropped():
    # e.g. the half-written answer of a retry: the question must be last.
    assert roles(build_ernie_messages([user("你好"), bot("你好！我")], 10_000)) == ["user"]


def test_blank_turns_vanish_before_merging():
    history = [user("a"), bot("  "), user("b")]
    assert build_ernie_messages(history, 10_000) == [{"role": "user", "content": "a\nb"}]


def test_the_oldest_pairs_are_dropped_to_fit_and_the_question_stays():
    history = [user("1" * 40), bot("2" * 40), user("3" * 40), bot("4" * 40), user("question")]
    result = build_ernie_messages(history, 100)
    assert result == [
        {"role": "user", "content": "3" * 40},
        {"role": "assistant", "content": "4" * 40},
        {"role": "user", "content": "question"},
    ]


def test_a_lone_question_longer_than_the_budget_is_cut():
    assert build_ernie_messages([user("x" * 50)], 20) == [{"role": "user", "content": "x" * 20}]


def test_a_history_without_any_player_message_gives_nothing():
    assert build_ernie_messages([bot("欢迎！")], 10_000) == []
    assert build_ernie_messages([], 10_000) == []


def test_any_history_comes_out_odd_alternating_and_within_budget():
    rng = random.Random(7)
    for _ in range(500):
        history = [
            ChatMessage(rng.choice(["user", "assistant"]), rng.choice(["", " ", "好", "x" * rng.randint(1, 60)]))
            for _ in range(rng.randint(0, 12))
        ]
        budget = rng.randint(1, 200)
        result = build_ernie_messages(history, budget)
        if not result:
            continue
        assert len(result) % 2 == 1
        assert roles(result) == ["user" if i % 2 == 0 else "assistant" for i in range(len(result))]
        assert sum(len(m["content"]) for m in result) <= budget
        assert all(m["content"].strip() for m in result)
