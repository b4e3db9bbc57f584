"""The bot's guidance in a real browser: quick replies, an inline form, a tool's answer.

Lin (game player 10086) opens the chat from the game (a signed token), against
daphne on the embedded default with the demo game backend (tests/conftest.py).
"""

from __future__ import annotations

import pytest

from chat.identity import make_player_token
from tests.e2e.test_player_browser import BOT_MESSAGES, PLAYER_MESSAGES, ask, page  # noqa: F401


@pytest.fixture
def signed_in(page, chat_server):  # noqa: F811 - the page fixture of test_player_browser
    from playwright.sync_api import expect

    page.goto(f"{chat_server.url}/?token={make_player_token('10086', name='Lin')}")
    expect(page.locator("#chat-app")).to_have_attribute("data-connection", "open")
    return page


def test_the_bot_offers_quick_replies_then_a_form_and_the_order_status_comes_back(signed_in, chat_server):
    from playwright.sync_api import expect

    tab = signed_in
    ask(tab, "hello")

    replies = tab.get_by_test_id("quick-reply")
    expect(replies.first).to_be_visible()
    expect(replies.filter(has_text="Talk to a human")).to_have_count(1)
    replies.filter(has_text="Top-up not received").click()

    expect(tab.locator(PLAYER_MESSAGES).last).to_contain_text("Top-up not received")
    expect(replies.first).to_be_disabled()  # used: the choice is made
    form = tab.get_by_test_id("inline-form")
    expect(form).to_be_visible()
    expect(tab.locator(BOT_MESSAGES).last).to_contain_text("order number")
    assert tab.locator(BOT_MESSAGES).last.get_by_test_id("sources").is_visible()

    field = tab.get_by_test_id("form-field-order_no")
    field.fill("SL12")  # not an order number: the form says so and sends nothing
    tab.get_by_test_id("form-submit").click()
    expect(form.locator(".inline-form__error")).to_contain_text("Order number")
    expect(tab.locator(PLAYER_MESSAGES)).to_have_count(2)

    field.fill("SL2025061202")
    tab.get_by_test_id("form-submit").click()

    expect(tab.locator(PLAYER_MESSAGES).last).to_contain_text("Order number: SL2025061202")
    answer = tab.locator(BOT_MESSAGES).last
    expect(answer).to_contain_text("I found your order SL2025061202", timeout=20_000)
    expect(answer).to_contain_text("Monthly Card")
    expect(answer).to_contain_text("paid, waiting for delivery")
    expect(answer).to_have_attribute("data-status", "done")
    expect(field).to_be_disabled()

    # A reload shows the same, with the used form and replies still disabled.
    tab.reload()
    expect(tab.locator("#chat-app")).to_have_attribute("data-connection", "open")
    expect(tab.locator(BOT_MESSAGES).last).to_contain_text("Monthly Card")
    expect(tab.get_by_test_id("form-field-order_no")).to_be_disabled()
    expect(tab.get_by_test_id("quick-reply").first).to_be_disabled()
