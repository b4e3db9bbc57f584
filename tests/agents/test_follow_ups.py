"""Which messages leave their subject out and are read with the chat's topic: agents/follow_ups.py."""

from __future__ import annotations

import pytest

from agents.follow_ups import leans_on_the_topic


@pytest.mark.parametrize(
    "text",
    ["and on iOS?", "what about the refund?", "how about PC", "那iOS呢", "iOS呢？", "那苹果手机呢", "如果是电脑呢"],
)
def test_a_short_follow_up_that_leaves_its_subject_out_leans_on_the_topic(text):
    assert leans_on_the_topic(text)


@pytest.mark.parametrize(
    "text",
    [
        "how do I appeal a ban",
        "and also my account was hacked yesterday, what do I do about it",
        "兑换码怎么用",
        "你们几点上班呢",  # ends in 呢, and says what it asks about
        "S3",
        "",
    ],
)
def test_a_question_that_says_what_it_is_about_stands_on_its_own(text):
    assert not leans_on_the_topic(text)
