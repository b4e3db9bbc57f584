"""The Django admin, staff's too, in a real browser (Debian Chromium) against a real daphne
(`chat_server`, tests/conftest.py), at the width of an office screen."""

from __future__ import annotations

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


def test_at_1280_px_the_messages_list_reads_its_texts_in_lines_with_every_column_in_view(browser, chat_server):
    """Eight columns squeezed the text to ~75 px: an answer wrapped a word a line, a row
    ran a screen tall, and the table ran past its pane."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
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
        assert columns["short_text"]["width"] >= 220, columns
        # No cell runs past two lines: the rest of a text is a hover or a click away.
        assert all(c["lines"] <= 2 for c in columns.values()), columns
        overflow = page.evaluate(
            "() => { const t = document.querySelector('#result_list');"
            " return t.scrollWidth - t.parentElement.clientWidth; }"
        )
        assert overflow <= 0, f"the list runs {overflow} px past its pane"
        text = page.locator("#result_list .field-short_text .message-text").first
        assert text.get_attribute("title").startswith("Here's what our help center says")
    finally:
        context.close()
