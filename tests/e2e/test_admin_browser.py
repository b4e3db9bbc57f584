"""The Django admin, staff's too, in a real browser (Debian Chromium) against a real daphne
(`chat_server`, tests/conftest.py), at the width of an office screen."""

from __future__ import annotations

import pytest

# Each column of the messages list: its width, and how many lines its tallest cell takes.
COLUMNS = """() => Array.from(document.querySelectorAll('#result_list thead th')).map((th, i) => {
  const cells = Array.from(document.querySelectorAll('#result_list tbody tr')).map(tr => tr.children[i]);
  const lines = cells.map(c => {
    const style = getComputedStyle(c);
    const inner = c.getBoundingClientRect().height - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    return Math.round(inner / parseFloat(style.lineHeight));
  });
  const name = (th.className.match(/column-(\\S+)/) || [null, th.className])[1];  // or the checkboxes'
  return { name: name, width: th.getBoundingClientRect().width, lines: Math.max(...lines) };
})"""

# The chats whose player's name ("visitor-d3b2ac2a", after "#1 ") spans more than one line.
NAMES_CUT = """() => Array.from(document.querySelectorAll('#result_list .field-chat a')).filter(a => {
  const texts = document.createTreeWalker(a, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = texts.nextNode()) && !/\\S-\\S/.test(node.data)) {}
  const name = document.createRange();
  name.setStart(node, node.data.search(/\\S+-\\S+/));
  name.setEnd(node, node.data.length);
  return name.getClientRects().length > 1;
}).map(a => a.textContent)"""


def player_asks(context, base_url: str, *texts: str):
    """A player's page in `context` that has sent each text. The page, and its chat's id.

    `chat_server` is the session's: other modules' tests leave their chats on it (tests/e2e/
    test_csp_browser.py's, in Chinese, an agent's long links), so the lists below show this
    chat alone, its rows laid out as a fresh server would show them."""
    from playwright.sync_api import expect

    player = context.new_page()
    player.goto(base_url + "/")
    expect(player.locator("#chat-app")).to_have_attribute("data-connection", "open")
    chat_id = player.locator("#chat-app").get_attribute("data-conversation")
    for text in texts:
        player.get_by_test_id("composer-input").fill(text)
        player.get_by_test_id("composer-input").press("Enter")
    return player, chat_id


def admin_list(context, url: str, username: str, password: str):
    """An admin list, signed in on its way. The page."""
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("#id_password").press("Enter")
    expect(page.locator("#result_list")).to_be_visible()
    return page


@pytest.mark.parametrize(("width", "text_width"), [(1280, 220), (1152, 150), (1024, 150)])
def test_on_an_office_screen_the_messages_list_reads_its_texts_in_lines_with_every_column_in_view(
    browser, chat_server, width, text_width
):
    """Eight columns squeezed the text to ~75 px: an answer wrapped a word a line, a row
    ran a screen tall, and the table ran past its pane. At 1024 px, once that was fixed
    for 1280, the time still ran off the pane's edge and a chat's name broke at its hyphen."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-US", viewport={"width": width, "height": 800})
    context.set_default_timeout(15_000)
    try:
        player, chat_id = player_asks(context, chat_server.url, "How do I get a refund?")
        answer = player.locator('[data-testid="message"][data-sender="bot"]').last
        expect(answer).to_have_attribute("data-status", "done")

        bot_answers = f"{chat_server.url}/admin/chat/message/?sender__exact=bot&conversation__id__exact={chat_id}"
        page = admin_list(context, bot_answers, "agent", "agent-demo-2026")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)

        columns = {c["name"]: c for c in page.evaluate(COLUMNS)}
        assert columns["short_text"]["width"] >= text_width, columns
        # No cell runs past two lines: the rest of a text is a hover or a click away.
        assert all(c["lines"] <= 2 for c in columns.values()), columns
        overflow = page.evaluate(
            "() => { const t = document.querySelector('#result_list');"
            " return t.scrollWidth - t.parentElement.clientWidth; }"
        )
        assert overflow <= 0, f"the list runs {overflow} px past its pane"
        # "#1" may go above the player, but "visitor-d3b2ac2a" is never cut at its hyphen.
        names_cut = page.evaluate(NAMES_CUT)
        assert names_cut == [], f"chats whose player's name breaks over lines: {names_cut}"
        text = page.locator("#result_list .field-short_text .message-text").first
        assert text.get_attribute("title").startswith("Here's what our help center says")
    finally:
        context.close()


@pytest.mark.parametrize(("width", "most_lines"), [(1280, 3), (1024, 4)])
def test_on_an_office_screen_the_conversations_list_keeps_every_column_in_view(browser, chat_server, width, most_lines):
    """At 1280 px the list ran past its pane: "Updated at", the column staff sort the chats
    by, was cut off at the screen's edge, with the live view's link after it."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-US", viewport={"width": width, "height": 800})
    context.set_default_timeout(15_000)
    try:
        player, chat_id = player_asks(context, chat_server.url, "How do I get a refund?", "I want to talk to a human")
        expect(player.locator('[data-testid="message"][data-sender="system"]').last).to_be_visible()

        its_chat = f"{chat_server.url}/admin/chat/conversation/?id__exact={chat_id}"
        page = admin_list(context, its_chat, "manager", "manager-demo-2026")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)

        overflow = page.evaluate(
            "() => { const t = document.querySelector('#result_list');"
            " return t.scrollWidth - t.parentElement.clientWidth; }"
        )
        columns = {c["name"]: c for c in page.evaluate(COLUMNS)}
        assert overflow <= 0, f"the list runs {overflow} px past its pane: {columns}"
        pane = page.locator("#changelist .changelist-form-container").bounding_box()
        for column in ("updated", "live_view"):
            header = page.locator(f"#result_list thead th.column-{column}").bounding_box()
            assert header["x"] + header["width"] <= pane["x"] + pane["width"] + 1, (column, header, pane)
        # What staff read a chat by is all there: who, its state and holder, why, what about, when.
        row = page.locator("#result_list tbody tr").first
        expect(row).to_contain_text("the player asked for a person")
        expect(row.locator("td.field-live_view a")).to_have_text("open live")
        # Its words wrap ("waiting for a human", "the player asked for a person"), in a few lines.
        assert all(c["lines"] <= most_lines for c in columns.values()), columns
    finally:
        context.close()


def test_an_admin_page_shows_csbots_icon_and_the_browser_meets_no_404_for_one(browser, chat_server):
    """Django's admin linked no icon: the browser asked for /favicon.ico, a 404 in its console
    and a WARNING in the server's log on every admin page."""
    import requests
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-US")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        failed: list[str] = []
        page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
        page.on("console", lambda message: message.type == "error" and failed.append(message.text))
        page.goto(chat_server.url + "/admin/login/")
        expect(page.locator("#id_username")).to_be_visible()
        icon = page.locator('link[rel="icon"]').get_attribute("href")
        shown = page.evaluate("async (url) => (await fetch(url)).headers.get('content-type')", icon)
    finally:
        context.close()

    assert icon.startswith("/static/chat/favicon") and shown == "image/svg+xml"
    assert failed == []
    asked = requests.get(chat_server.url + "/favicon.ico", timeout=10)  # a browser's own guess
    assert (asked.status_code, asked.headers["Content-Type"]) == (200, "image/svg+xml")
    assert asked.url.startswith(chat_server.url + "/static/chat/favicon")
