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
  const name = th.className.match(/column-(\\S+)/)[1];
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
        player = context.new_page()
        player.goto(chat_server.url + "/")
        expect(player.locator("#chat-app")).to_have_attribute("data-connection", "open")
        player.get_by_test_id("composer-input").fill("How do I get a refund?")
        player.get_by_test_id("composer-input").press("Enter")
        answer = player.locator('[data-testid="message"][data-sender="bot"]').last
        expect(answer).to_have_attribute("data-status", "done")

        page = context.new_page()
        page.goto(chat_server.url + "/admin/chat/message/?sender__exact=bot")
        page.fill("#id_username", "agent")
        page.fill("#id_password", "agent-demo-2026")
        page.locator("#id_password").press("Enter")
        expect(page.locator("#result_list")).to_be_visible()

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
