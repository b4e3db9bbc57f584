"""The player page in a real browser (Debian Chromium) against a real daphne.

`chat_server` (tests/conftest.py) serves the product on the embedded default with
the demo knowledge base; the offline provider answers from it in several chunks.
Every test opens a fresh browser context, so it is a new player with a new chat.
"""

from __future__ import annotations

import time

import pytest

from tests import servers
from tests.e2e.socket_faults import relay, tail_lost
from tests.fake_ernie_fixtures import fake_ernie_env

QUESTION = "充值没到账怎么办"
MESSAGES = '[data-testid="message"]'
PLAYER_MESSAGES = '[data-testid="message"][data-sender="player"]'
BOT_MESSAGES = '[data-testid="message"][data-sender="bot"]'

# One atomic read of the latest answer: its visible text length and its status.
READ_ANSWER = """() => {
  const all = document.querySelectorAll('[data-testid="message"][data-sender="bot"]');
  const m = all[all.length - 1];
  if (!m) return null;
  const body = m.querySelector('[data-testid="message-text"]');
  return [body ? body.textContent.trim().length : 0, m.dataset.status];
}"""


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 420, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_chat(page, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/")
    # `resumed` arrived: the socket is ready and the history (if any) is shown.
    expect(page.locator("#chat-app")).to_have_attribute("data-connection", "open")


def ask(page, text: str) -> None:
    box = page.get_by_test_id("composer-input")
    box.click()
    box.fill(text)
    box.press("Enter")


def sample_until_finished(page, timeout: float = 30.0) -> tuple[list[int], str]:
    """Reads the answer's length over and over until it is no longer streaming."""
    lengths: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        read = page.evaluate(READ_ANSWER)
        if read is not None:
            length, status = read
            if status != "streaming":
                return lengths, status
            if length and (not lengths or lengths[-1] != length):
                lengths.append(length)
        page.wait_for_timeout(5)
    raise AssertionError(f"the answer did not finish in {timeout}s; lengths seen: {lengths}")


def test_answer_streams_and_history_survives_a_reload(page, chat_server):
    from playwright.sync_api import expect

    open_chat(page, chat_server.url)
    ask(page, QUESTION)

    mine = page.locator(PLAYER_MESSAGES)
    expect(mine).to_have_count(1)
    expect(mine.first).to_contain_text(QUESTION)
    expect(page.get_by_test_id("composer-input")).to_have_value("")

    lengths, status = sample_until_finished(page)
    assert len(set(lengths)) >= 2, f"the answer did not grow in steps: {lengths}"
    assert status == "done"

    answer = page.locator(BOT_MESSAGES)
    expect(answer).to_have_count(1)
    expect(answer.first).to_have_attribute("data-status", "done")
    expect(mine.first).to_have_attribute("data-status", "sent")
    sources = answer.first.get_by_test_id("sources")
    expect(sources).to_be_visible()
    expect(sources.locator("li").first).to_be_visible()
    expect(page.get_by_test_id("typing")).to_be_hidden()
    answer_text = answer.first.get_by_test_id("message-text").inner_text()
    assert answer_text.strip()

    page.reload()
    open_chat(page, chat_server.url)
    expect(page.locator(MESSAGES)).to_have_count(2)
    expect(page.locator(PLAYER_MESSAGES).first).to_contain_text(QUESTION)
    again = page.locator(BOT_MESSAGES).first
    expect(again).to_have_attribute("data-status", "done")
    expect(again.get_by_test_id("message-text")).to_have_text(answer_text)
    expect(again.get_by_test_id("sources")).to_be_visible()


def test_shift_enter_is_a_newline_and_an_overlong_message_is_kept(page, chat_server):
    from playwright.sync_api import expect

    open_chat(page, chat_server.url)
    box = page.get_by_test_id("composer-input")
    box.click()
    box.type("first line")
    box.press("Shift+Enter")
    box.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    page.wait_for_timeout(300)
    expect(page.locator(MESSAGES)).to_have_count(0)

    max_chars = int(page.locator("#chat-app").get_attribute("data-max-chars"))
    too_long = "长" * (max_chars + 1)
    box.fill(too_long)
    box.press("Enter")
    error = page.get_by_test_id("composer-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(str(max_chars))
    expect(box).to_have_value(too_long)
    page.get_by_test_id("composer-send").click()
    expect(box).to_have_value(too_long)
    page.wait_for_timeout(300)
    expect(page.locator(MESSAGES)).to_have_count(0)

    # Shortened, it goes.
    box.fill("short enough")
    expect(error).to_be_hidden()
    box.press("Enter")
    expect(page.locator(PLAYER_MESSAGES)).to_have_count(1)
    expect(box).to_have_value("")


def test_switching_to_chinese_shows_chinese_ui(page, chat_server):
    from playwright.sync_api import expect

    open_chat(page, chat_server.url)
    expect(page.locator("h1")).to_have_text("Starfall Legends support")

    page.get_by_test_id("language-zh-hans").click()  # posts to set_language, back to /
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#chat-app")).to_have_attribute("data-connection", "open")
    expect(page.get_by_test_id("language-zh-hans")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("h1")).to_have_text("星落传说 客服")
    expect(page.get_by_test_id("composer-send")).to_contain_text("发送")
    expect(page.get_by_test_id("composer-input")).to_have_attribute("placeholder", "请输入您的问题…")
    expect(page.get_by_test_id("conv-state")).to_contain_text("智能助手为您服务")
    # Strings built by the script come from the translated template too.
    ask(page, "x" * (int(page.locator("#chat-app").get_attribute("data-max-chars")) + 1))
    expect(page.get_by_test_id("composer-error")).to_contain_text("消息太长")


@pytest.mark.parametrize("fault", ["socket_dropped", "delta_lost", "tail_lost"])
def test_answer_is_complete_after_a_lost_connection_or_frame(page, chat_server, fault):
    """The client resumes (protocol.md) and ends with exactly the stored answer.

    tail_lost: every delta from the third to the `end` is lost, so no offset shows
    a gap; only the `end`'s final length `n` tells the page that text is missing
    (what a page sees after resuming from a server process whose buffer was behind).
    """
    from playwright.sync_api import expect

    state = {"deltas": 0, "dropped": False, "connections": 0, "sent": [], "ended": False}

    def drop(frame, ws, server):
        if fault == "tail_lost":
            return tail_lost(state, frame)
        if frame.get("t") == "d" and not state["dropped"]:
            state["deltas"] += 1
            if state["deltas"] == 3:
                state["dropped"] = True
                if fault == "socket_dropped":
                    ws.close(code=4000, reason="test drops the socket")
                    server.close()
                return True  # delta_lost: this frame never reaches the page
        return False

    def route(ws):
        state["connections"] += 1
        relay(ws, state["sent"], drop)

    page.route_web_socket("**/ws/chat/", route)
    open_chat(page, chat_server.url)
    ask(page, QUESTION)
    _, status = sample_until_finished(page)
    assert status == "done"
    assert state["dropped"], "the answer was too short to lose a frame in the middle"
    resumes = [f for f in state["sent"] if f["type"] == "resume"]
    assert len(resumes) >= 2, resumes
    assert any(r["streams"] for r in resumes[1:]), f"no resume named the streaming answer: {resumes}"
    if fault == "socket_dropped":
        assert state["connections"] >= 2
    shown = page.locator(BOT_MESSAGES).first.get_by_test_id("message-text").inner_text()
    expect(page.locator(MESSAGES)).to_have_count(2)

    # The stored answer, as a fresh page gets it (the route now passes everything).
    page.reload()
    open_chat(page, chat_server.url)
    expect(page.locator(BOT_MESSAGES).first.get_by_test_id("message-text")).to_have_text(shown)
    expect(page.locator(MESSAGES)).to_have_count(2)


# WCAG's contrast ratio of an element's text colour on the page's chat background.
CONTRAST_ON_CHAT = """el => {
  const lum = c => {
    const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map(v => v / 255)
      .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const fg = lum(getComputedStyle(el).color);
  const bg = lum(getComputedStyle(document.querySelector('.page-player')).backgroundColor);
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""

# Lets the test cut the page's socket and keep it from reconnecting.
SOCKETS_UNDER_TEST = """
window.__sockets = [];
const Real = window.WebSocket;
window.WebSocket = function (url, protocols) {
  if (window.__noSockets) throw new Error("no network");
  const ws = new Real(url, protocols);
  window.__sockets.push(ws);
  return ws;
};
window.WebSocket.OPEN = Real.OPEN;
"""


def test_small_text_passes_wcag_aa_contrast(page, chat_server):
    from playwright.sync_api import expect

    open_chat(page, chat_server.url)
    ask(page, QUESTION)
    expect(page.locator(BOT_MESSAGES).first).to_have_attribute("data-status", "done", timeout=30_000)
    handoff = page.get_by_test_id("handoff")
    expect(handoff).to_be_visible()
    for element in (handoff, page.locator(".msg__time").first, page.locator(".msg__label").first):
        assert element.evaluate(CONTRAST_ON_CHAT) >= 4.5


def test_the_header_says_reconnecting_while_the_socket_is_down(page, chat_server):
    from playwright.sync_api import expect

    page.add_init_script(SOCKETS_UNDER_TEST)
    open_chat(page, chat_server.url)
    state = page.get_by_test_id("conv-state")
    expect(state).to_have_text("Chatting with our assistant")

    page.evaluate("() => { window.__noSockets = true; window.__sockets.at(-1).close(); }")
    expect(state).to_have_text("Reconnecting…")
    expect(state).to_have_attribute("data-connection", "reconnecting")
    dot = state.locator(".conv-state__dot")
    assert dot.evaluate("el => getComputedStyle(el).backgroundColor") != "rgb(125, 255, 179)"  # not the green

    page.evaluate("() => { window.__noSockets = false; }")  # the next try (backoff) connects
    expect(state).to_have_text("Chatting with our assistant")
    expect(state).to_have_attribute("data-connection", "open")


# Sockets that reach the server but are refused there while `__noSockets` (a web process
# down behind its balancer): each try opens a socket and loses it.
REFUSED_SOCKETS = """
window.__sockets = [];
window.__tries = 0;
const Real = window.WebSocket;
window.WebSocket = function (url, protocols) {
  if (!window.__noSockets) {
    const ws = new Real(url, protocols);
    window.__sockets.push(ws);
    return ws;
  }
  window.__tries += 1;
  return new Real(url.replace("/ws/chat/", "/ws/none/"), protocols);
};
window.WebSocket.OPEN = Real.OPEN;
"""

# What a screen reader is given to read: the text added to a shown live region, in order.
HEARD = """
window.__heard = [];
new MutationObserver(changes => changes.forEach(change => {
  const at = change.target.nodeType === 1 ? change.target : change.target.parentElement;
  const live = at && at.closest('[aria-live]:not([aria-live="off"]), [role="status"], [role="alert"], [role="log"]');
  if (!live || live.closest('[hidden]')) return;
  const text = change.type === 'characterData' ? change.target.data
    : [...change.addedNodes].map(node => node.textContent).join('');
  if (text.trim()) window.__heard.push(text.trim());
})).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_a_screen_reader_hears_reconnecting_once_however_many_tries_it_takes(page, chat_server):
    """The header's line and the banner under it were both live regions: "Reconnecting…"
    was read twice, and again at each try."""
    from playwright.sync_api import expect

    page.add_init_script(REFUSED_SOCKETS + HEARD)
    open_chat(page, chat_server.url)
    state = page.get_by_test_id("conv-state")
    expect(state).to_have_text("Chatting with our assistant")

    page.evaluate("() => { window.__heard = []; window.__noSockets = true; window.__sockets.at(-1).close(); }")
    page.wait_for_function("() => window.__tries >= 2")
    expect(state).to_have_text("Reconnecting…")
    expect(page.get_by_test_id("connection")).to_contain_text("Reconnecting…")  # still shown to the eye
    heard = page.evaluate("() => window.__heard")
    assert [text for text in heard if "Reconnecting" in text] == ["Reconnecting…"], heard

    page.evaluate("() => { window.__noSockets = false; }")
    expect(state).to_have_text("Chatting with our assistant")
    assert page.evaluate("() => window.__heard").count("Chatting with our assistant") == 1


def test_a_player_waiting_for_a_person_can_go_on_with_the_assistant(page, chat_server):
    from playwright.sync_api import expect

    open_chat(page, chat_server.url)
    page.get_by_test_id("handoff").click()
    back = page.get_by_test_id("back-to-bot")
    expect(back).to_be_visible()
    expect(back).to_have_text("Continue with the assistant")
    expect(page.get_by_test_id("handoff")).to_be_hidden()

    back.click()
    expect(page.get_by_test_id("conv-state")).to_have_text("Chatting with our assistant")
    expect(back).to_be_hidden()
    ask(page, QUESTION)
    expect(page.locator(BOT_MESSAGES).last).to_have_attribute("data-status", "done", timeout=30_000)
    back_line = page.locator('[data-testid="message"][data-sender="system"][data-event="handed_back"]')
    expect(back_line).to_contain_text("You are chatting with our assistant again.")


def test_a_message_sent_too_fast_goes_back_into_the_box(page, chat_server, tmp_path):
    """A server that allows one message a minute (chat/flood.py) refuses the second: the
    page puts its words back in the box and says why; the first stays in the chat."""
    from playwright.sync_api import expect

    from tests import servers

    strict = {**chat_server.env, "PLAYER_MESSAGE_BURST": "1", "PLAYER_MESSAGES_PER_MINUTE": "1"}
    server = servers.Daphne(strict, tmp_path / "daphne-strict.log").start()
    try:
        open_chat(page, server.url)
        ask(page, "first question")
        expect(page.locator(PLAYER_MESSAGES)).to_have_count(1)
        ask(page, "second question, too soon")
        box = page.get_by_test_id("composer-input")
        expect(box).to_have_value("second question, too soon")
        expect(page.get_by_test_id("composer-error")).to_contain_text("wait a moment")
        expect(page.locator(PLAYER_MESSAGES)).to_have_count(1)
        expect(page.locator(PLAYER_MESSAGES).first).to_contain_text("first question")
    finally:
        server.stop()


RENDER = """(text) => {
  const el = document.createElement("div");
  window.csbotMarkdown.render(el, text);
  return el.innerHTML;
}"""


def test_an_answer_cut_off_mid_markup_reads_as_formatted_text_not_as_asterisks(page, chat_server):
    # An answer stopped by a takeover (or shown while it streams) ends where it was cut.
    open_chat(page, chat_server.url)

    def shown(text: str) -> str:
        return page.evaluate(RENDER, text)

    assert "<strong>Account banned</strong>" in shown("Your account: **Account banned")
    assert "**" not in shown("Your account: **Account banned\n")
    assert "<code>check_ord</code>" in shown("Run `check_ord")
    assert shown("```\nstep 1\nstep 2").count("<pre>") == 1 and "```" not in shown("```\nstep 1\nstep 2")
    # Whole text is shown as it is.
    whole = "**Done**: use `a**b`, then\n\n```\nx ** y\n```"
    assert shown(whole).count("<strong>") == 1 and "a**b" in shown(whole) and "x ** y" in shown(whole)


def test_an_answer_steered_to_ask_for_a_password_shows_no_form_and_no_script_link(page, chat_server):
    """A prompt injection (a tool's data, a document) could have the bot write HTML: a password
    box and a button in the bot's own bubble, or a link that runs a script."""
    open_chat(page, chat_server.url)
    phishing = (
        "Please verify your account:\n\n"
        '<form action="/"><input type="password" name="p" placeholder="Password"><button>Verify</button></form>\n\n'
        "<textarea>secret</textarea>\n\n[open the help page](javascript:alert(document.cookie))\n\n"
        "- [ ] restart the game"
    )

    shown = page.evaluate(RENDER, phishing)

    for tag in ("<form", "<input", "<button", "<textarea", 'href="javascript:'):
        assert tag not in shown
    assert "Please verify your account" in shown and "restart the game" in shown
    assert "<a>open the help page</a>" in shown  # the words stay, without the script


def test_an_answer_stopped_before_it_said_anything_is_not_shown(page, chat_server):
    """An agent who takes over while the bot prepares its answer stops it before its first
    word: the player read an empty bubble "(answer stopped)" under "Alice has joined the chat.",
    and above it on every reload."""
    from playwright.sync_api import expect

    open_chat(page, chat_server.url)
    ask(page, "hello from the stopped-answer test")
    expect(page.locator(BOT_MESSAGES).last).to_have_attribute("data-status", "done", timeout=30_000)
    stop_the_next_answer_before_its_first_word = """
from chat.models import Message
from chat.services import message_append
asked = Message.objects.get(text="hello from the stopped-answer test")
message_append(conversation_id=asked.conversation_id, sender="bot", text="", status="interrupted")
"""
    servers.manage(chat_server.env, "shell", "-c", stop_the_next_answer_before_its_first_word)
    page.reload()
    expect(page.locator("#chat-app")).to_have_attribute("data-connection", "open")

    expect(page.locator(f'{BOT_MESSAGES}[data-status="done"]')).to_be_visible()
    expect(page.locator(f'{BOT_MESSAGES}[data-status="interrupted"]')).to_be_hidden()
    expect(page.get_by_text("(answer stopped)")).to_be_hidden()


def test_a_player_whose_answer_waits_out_the_llms_rate_limit_reads_that_it_is_coming(page, fake_ernie_thread, tmp_path):
    from playwright.sync_api import expect

    fake_ernie_thread.configure(reply=["Top-ups usually arrive within five minutes."])
    fake_ernie_thread.script("error_object", error_code=18, times=3)  # ERNIE's QPS limit, for a second or two
    server = servers.demo_daphne(tmp_path, LLM_RETRY_BACKOFF="0.3", **fake_ernie_env(fake_ernie_thread))
    try:
        open_chat(page, server.url)
        ask(page, "my top-up didn't arrive")

        busy = page.get_by_test_id("typing-busy")
        expect(busy).to_be_visible()
        expect(busy).to_have_text("Lots of players are asking right now. Your answer is on its way.")
        # A screen reader hears it too.
        expect(page.get_by_test_id("announcer")).to_contain_text("Lots of players are asking right now.")
        expect(page.locator(BOT_MESSAGES).last).to_contain_text("Top-ups usually arrive within five minutes.")
        expect(busy).to_be_hidden()
    finally:
        server.stop()


def test_after_a_reload_of_a_closed_chat_the_box_still_says_a_message_starts_a_new_one(page, chat_server):
    """The box said "Type your question…" after a reload, though the chat above it was closed."""
    from playwright.sync_api import expect

    open_chat(page, chat_server.url)
    ask(page, "hello from the closed-chat reload test")
    expect(page.locator(BOT_MESSAGES).last).to_have_attribute("data-status", "done", timeout=30_000)
    close_it = """
from django.contrib.auth.models import User
from chat.handoff import conversation_close
from chat.models import Message
asked = Message.objects.get(text="hello from the closed-chat reload test")
conversation_close(conversation_id=asked.conversation_id, actor=User.objects.get(username="manager"))
"""
    servers.manage(chat_server.env, "shell", "-c", close_it)
    page.reload()
    expect(page.locator("#chat-app")).to_have_attribute("data-connection", "open")

    box = page.get_by_test_id("composer-input")
    expect(page.get_by_text("hello from the closed-chat reload test")).to_be_visible()  # above the divider
    expect(box).to_have_attribute("placeholder", "This conversation is closed. Send a message to start a new one.")
    ask(page, "and a new question")
    expect(box).to_have_attribute("placeholder", "Type your question…")
