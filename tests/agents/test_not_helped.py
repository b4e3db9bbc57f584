"""Telling "still doesn't work" from a question that has "work" in it: agents/not_helped.py."""

from __future__ import annotations

import pytest

from agents.not_helped import says_it_did_not_help


@pytest.mark.parametrize(
    "text",
    ["still doesnt work", "that didn't help", "nope, still not working!!", "I tried that already, didn't help",
     "same problem", "还是不行", "试过了，还是不行", "没用啊", "不管用", "都试过了",
     # What was to arrive still has not, after the answer said where to look.
     "还是没有", "还是没收到", "等了半天还是没有啊", "到现在还没到账", "still haven't got it", "still not received"],
)  # fmt: skip
def test_saying_the_answer_did_not_help_is_told_apart(text):
    assert says_it_did_not_help(text)


@pytest.mark.parametrize(
    "text",
    ["how does the monthly card work", "the game doesn't work on my phone", "my top-up didn't arrive",
     "didn't help, my order number is SL2025061202", "still waiting for my refund", "月卡有什么用",
     # A complaint of its own, and "not yet" (checked the mailbox?).
     "活动奖励的邮件一直没收到", "还没有"],
)  # fmt: skip
def test_a_question_or_a_new_detail_is_not_taken_for_it(text):
    assert not says_it_did_not_help(text)
