"""The pages work in Chromium under their Content-Security-Policy (csbot/csp.py): nothing
on the player page, the staff dashboard or the analytics is refused by it, the chat's
WebSocket included, while the policy is in force on each of them.

The browser says what the policy refused twice: a `securitypolicyviolation` event in the
page, and a console line "Refused to …". Both are recorded, across navigations.
"""

from __future__ import annotations

import pytest

from tests.analytics.test_browser import ALL_DRAWN
from tests.e2e.test_staff_browser import ask, open_player, sign_in_as_agent

QUESTION = "充值没到账怎么办"
PLAYER_BOT = '[data-testid="message"][data-sender="bot"]'

# Before any script of the page's own: every violation goes to the console, which the test reads.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("securitypolicyviolation: " + e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture
def refused(browser):
    """A new browser context's pages, and what the policy refused on any of them."""
    contexts, refusals, errors = [], [], []

    def open_page(viewport=(1280, 860)):
        context = browser.new_context(locale="en-US", viewport={"width": viewport[0], "height": viewport[1]})
        context.set_default_timeout(15_000)
        context.add_init_script(REPORT_VIOLATIONS)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: (
                refusals.append(msg.text) if "securitypolicyviolation" in msg.text or "Refused to" in msg.text else None
            ),
        )
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    open_page.refusals = refusals
    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_the_player_page_the_dashboard_and_analytics_work_with_nothing_refused(refused, chat_server):
    from playwright.sync_api import expect

    player = refused(viewport=(420, 860))
    shown = player.goto(chat_server.url + "/")
    assert "script-src 'self'" in shown.headers["content-security-policy"]  # the policy is in force
    cid = open_player(player, chat_server.url)  # the WebSocket is open: 'self' covers ws:
    ask(player, QUESTION)
    answer = player.locator(PLAYER_BOT).last
    expect(answer).to_have_attribute("data-status", "done", timeout=30_000)
    expect(answer.get_by_test_id("message-text")).to_contain_text("充值")

    agent = refused()
    sign_in_as_agent(agent, chat_server.url)  # the sign-in page, then the dashboard
    assert "script-src 'self'" in agent.evaluate(
        "() => fetch('/staff/').then((r) => r.headers.get('content-security-policy'))"
    )
    agent.get_by_test_id("filter-open").click()
    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    expect(agent.locator('#messages [data-sender="bot"]').last.get_by_test_id("message-text")).to_contain_text("充值")

    manager = refused()
    manager.goto(chat_server.url + "/analytics/")
    manager.fill("#id_username", "manager")
    manager.fill("#id_password", "manager-demo-2026")
    manager.get_by_role("button", name="Sign in").click()
    expect(manager.get_by_test_id("analytics")).to_be_visible()
    manager.wait_for_function(ALL_DRAWN)
    assert refused.refusals == []
    # The shared styles apply (a file now: the policy refuses inline ones): the header is a flex row.
    assert manager.locator(".site-header").evaluate("(h) => getComputedStyle(h).display") == "flex"
