"""The dashboard's list previews a chat's last message as plain words, not Markdown."""

from __future__ import annotations

import pytest

from chat.previews import plain_preview


@pytest.mark.parametrize(
    "text, preview",
    [
        (
            "Here's what our help center says about **Refund policy**:\n\n- Refunds take *3-5 days* [1]",
            "Here's what our help center says about Refund policy: Refunds take 3-5 days",
        ),
        ("## 充值未到账\n\n请先确认订单状态 [1][2]。", "充值未到账 请先确认订单状态。"),
        ("See [the guide](https://help.example/g) and `Settings → Account`", "See the guide and Settings → Account"),
        ("my_player_id is 10086, 2*3 = 6", "my_player_id is 10086, 2*3 = 6"),  # not markup
    ],
)
def test_a_preview_is_the_words_without_markdown(text, preview):
    assert plain_preview(text, 200) == preview


def test_a_long_message_is_cut_with_an_ellipsis():
    assert plain_preview("word " * 100, 20) == "word word word word…"
