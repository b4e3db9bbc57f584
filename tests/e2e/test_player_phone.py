"""The player page as most players meet it: on a phone, by touch, or with a screen reader
or only a keyboard (Debian Chromium emulating a phone: its size, touch, a mobile viewport).

`chat_server` (tests/conftest.py) serves the product on the embedded default with the demo
knowledge base; the offline provider answers from it in several chunks.
"""

from __future__ import annotations

import re

import pytest

from tests import servers
from tests.e2e.test_player_browser import BOT_MESSAGES, ask, open_chat
from tests.fake_ernie_fixtures import fake_ernie_env

PHONE = {"width": 360, "height": 640}
PHONE_TALL = {"width": 390, "height": 844}
PHONE_LANDSCAPE = {"width": 844, "height": 390}


@pytest.fixture
def phone(browser):
    """Opens the player page on an emulated phone: `phone(viewport, locale)` returns the page."""
    contexts = []
    errors: list[str] = []

    def open_page(viewport=PHONE, locale="zh-CN", **options):
        context = browser.new_context(
            locale=locale, viewport=viewport, has_touch=True, is_mobile=True, device_scale_factor=2, **options
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def wait_for_answer(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator(BOT_MESSAGES).last).to_have_attribute("data-status", "done", timeout=30_000)


# Every addition to the screen reader's live region, with the answer's status at that moment.
RECORD_ANNOUNCEMENTS = """() => {
  window.__said = [];
  const region = document.querySelector('[data-testid="announcer"]');
  if (!region) return;
  new MutationObserver(changes => changes.forEach(change => change.addedNodes.forEach(node => {
    const answers = document.querySelectorAll('[data-testid="message"][data-sender="bot"]');
    const last = answers[answers.length - 1];
    window.__said.push([node.textContent, last ? last.dataset.status : null]);
  }))).observe(region, {childList: true});
}"""

# The answer's paragraphs and list items as the player reads them.
ANSWER_BLOCKS = """() => {
  const answers = document.querySelectorAll('[data-testid="message"][data-sender="bot"]');
  const body = answers[answers.length - 1].querySelector('[data-testid="message-text"]');
  return [...body.querySelectorAll(':scope > :not(ul):not(ol), :scope > ul > li, :scope > ol > li')]
    .map(block => block.textContent.replace(/\\s+/g, ' ').trim()).filter(Boolean);
}"""

# Message texts that sit inside a live region: a screen reader reads every change to them.
MESSAGES_IN_A_LIVE_REGION = """() => [...document.querySelectorAll('[data-testid="message-text"]')].filter(
  text => text.closest('[aria-live]:not([aria-live="off"]), [role="log"], [role="status"], [role="alert"]')
).length"""


@pytest.mark.parametrize(
    "locale, speaker, typing",
    [("zh-CN", "智能助手", "智能助手正在输入"), ("en-US", "Assistant", "The assistant is typing")],
    ids=["zh-hans", "en"],
)
def test_a_screen_reader_hears_each_paragraph_of_the_answer_once_as_it_is_finished(
    phone, chat_server, locale, speaker, typing
):
    page = phone(PHONE, locale)
    open_chat(page, chat_server.url)
    page.evaluate(RECORD_ANNOUNCEMENTS)
    ask(page, "充值没到账怎么办")
    wait_for_answer(page)
    page.wait_for_timeout(300)

    # Re-rendered on every frame while it streams, an answer in a live region is read out
    # again and again, a few words longer each time.
    assert page.evaluate(MESSAGES_IN_A_LIVE_REGION) == 0
    said = page.evaluate("() => window.__said")
    blocks = page.evaluate(ANSWER_BLOCKS)
    assert len(blocks) >= 3
    texts = [text for text, _ in said]
    # That it is coming, then each paragraph once, in order, the first one saying who speaks;
    # the question is not read back.
    assert texts == [typing, f"{speaker}: {blocks[0]}", *blocks[1:]]
    # Read while the answer is still being written, not only once it has all come.
    assert any(status == "streaming" for _, status in said)


def test_a_screen_reader_hears_nothing_again_of_the_history_after_a_reload(phone, chat_server):
    page = phone(PHONE_TALL, "en-US")
    open_chat(page, chat_server.url)
    ask(page, "How do I recover my account?")
    wait_for_answer(page)

    page.reload()
    open_chat(page, chat_server.url)
    page.wait_for_timeout(500)
    assert page.evaluate(MESSAGES_IN_A_LIVE_REGION) == 0
    assert page.get_by_test_id("announcer").inner_text() == ""


# Each control a player taps, visible and usable, with its box; and how wide the page is.
CONTROLS = """() => {
  const boxes = [...document.querySelectorAll(
    '.lang-switch button, [data-testid="quick-reply"], [data-testid="inline-form"] input, ' +
    '[data-testid="inline-form"] select, [data-testid="form-submit"], [data-testid="composer-input"], ' +
    '[data-testid="composer-send"], [data-testid="handoff"]'
  )].filter(el => el.getClientRects().length).map(el => {
    const r = el.getBoundingClientRect();
    return {name: el.getAttribute('data-testid') || el.name || el.textContent.trim(),
            left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height};
  });
  return {boxes, pageWidth: document.documentElement.scrollWidth, width: innerWidth, height: innerHeight};
}"""


@pytest.mark.parametrize(
    "viewport, locale",
    [(PHONE, "zh-CN"), (PHONE_TALL, "en-US"), (PHONE_LANDSCAPE, "zh-CN")],
    ids=["360x640-zh-hans", "390x844-en", "844x390-zh-hans"],
)
def test_on_a_phone_every_control_is_a_thumb_sized_target_and_nothing_is_wider_than_the_screen(
    phone, chat_server, viewport, locale
):
    page = phone(viewport, locale)
    open_chat(page, chat_server.url)
    # An order number and a link longer than the screen is wide.
    ask(page, "GPA.1234-5678-9012-34567-8901-2345-6789 https://example.com/" + "a-very-long-path/" * 6)
    ask(page, "垃圾游戏")  # the topics to choose: quick replies
    wait_for_answer(page)
    ask(page, "充值没到账怎么办")  # asks for the order number: an inline form
    wait_for_answer(page)
    page.get_by_test_id("inline-form").scroll_into_view_if_needed()

    seen = page.evaluate(CONTROLS)
    names = {box["name"] for box in seen["boxes"]}
    assert {"quick-reply", "form-field-order_no", "form-submit", "composer-input", "composer-send", "handoff"} <= names
    small = [box for box in seen["boxes"] if box["height"] < 40 or box["width"] < 40]
    assert not small, f"too small to tap: {small}"
    assert seen["pageWidth"] <= seen["width"]
    outside = [box for box in seen["boxes"] if box["left"] < 0 or box["right"] > seen["width"]]
    assert not outside, f"past the screen's edge: {outside}"
    for name in ("composer-input", "composer-send"):
        box = page.get_by_test_id(name).bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= seen["height"], f"{name} is off the screen: {box}"
    bubbles = page.evaluate(
        "() => [...document.querySelectorAll('.msg__bubble')].map(b => b.getBoundingClientRect().right)"
    )
    assert max(bubbles) <= seen["width"]


def test_tapping_send_keeps_the_box_focused_so_the_on_screen_keyboard_stays_open(phone, chat_server):
    from playwright.sync_api import expect

    page = phone(PHONE, "zh-CN")
    open_chat(page, chat_server.url)
    box = page.get_by_test_id("composer-input")
    box.tap()
    page.evaluate(
        """() => { window.__blurs = 0;
        document.querySelector('[data-testid="composer-input"]').addEventListener('blur', () => window.__blurs++); }"""
    )
    box.fill("我的账号被封了")
    page.get_by_test_id("composer-send").tap()

    expect(page.locator('[data-testid="message"][data-sender="player"]')).to_have_count(1)
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    # Not even for a moment: a blur closes a phone's keyboard, and focus() opens it again.
    assert page.evaluate("() => window.__blurs") == 0


@pytest.mark.parametrize("offer", ["quick reply", "inline form"])
def test_a_keyboard_player_who_uses_an_offer_goes_on_typing_in_the_box(phone, chat_server, offer):
    from playwright.sync_api import expect

    page = phone(PHONE_TALL, "en-US")
    open_chat(page, chat_server.url)
    if offer == "quick reply":
        ask(page, "垃圾游戏")
        wait_for_answer(page)
        choice = page.get_by_test_id("quick-reply").first
        choice.focus()
        page.keyboard.press("Enter")
    else:
        ask(page, "my top-up has not arrived")
        wait_for_answer(page)
        field = page.get_by_test_id("form-field-order_no")
        field.focus()
        page.keyboard.type("SL2025061200")
        page.keyboard.press("Enter")

    expect(page.locator('[data-testid="message"][data-sender="player"]')).to_have_count(2)
    # The used offer is disabled; the focus is not left on it (nor dropped to the page's top).
    expect(page.get_by_test_id("composer-input")).to_be_focused()
    page.keyboard.type("thanks")
    expect(page.get_by_test_id("composer-input")).to_have_value("thanks")


def test_a_form_asking_for_a_player_id_opens_the_number_pad_and_an_order_number_is_not_autocorrected(
    phone, chat_server
):
    from playwright.sync_api import expect

    page = phone(PHONE, "en-US")
    open_chat(page, chat_server.url)
    ask(page, "someone changed my password and the email, i can't get in")  # asks for player id and server
    wait_for_answer(page)
    player_id = page.get_by_test_id("form-field-player_id")
    expect(player_id).to_have_attribute("inputmode", "numeric")
    expect(player_id).to_have_accessible_name("Player ID")
    expect(player_id).to_have_attribute("required", "")
    expect(page.get_by_test_id("form-field-server")).to_have_accessible_name("Server")

    # Wrong, the reason is read with the field.
    player_id.fill("abc")
    page.get_by_test_id("form-submit").tap()
    expect(player_id).to_have_attribute("aria-invalid", "true")
    expect(player_id).to_have_accessible_description("Please check: Player ID, Server")

    ask(page, "my top-up has not arrived")  # asks for the order number: letters and digits
    wait_for_answer(page)
    order_no = page.get_by_test_id("form-field-order_no").last
    expect(order_no).not_to_have_attribute("inputmode", "numeric")
    expect(order_no).to_have_attribute("autocorrect", "off")
    expect(order_no).to_have_attribute("autocapitalize", "off")
    expect(order_no).to_have_attribute("spellcheck", "false")


# iOS Safari leaves the page as tall as the screen when the on-screen keyboard opens and
# shrinks only the visual viewport; Chromium's emulation has no keyboard, so the page gets
# a visual viewport the test can shrink as the keyboard would.
KEYBOARD_VIEWPORT = """() => {
  const real = window.visualViewport;
  const fake = new EventTarget();
  fake.height = innerHeight; fake.width = innerWidth; fake.offsetTop = 0; fake.offsetLeft = 0; fake.scale = 1;
  Object.defineProperty(window, 'visualViewport', {get: () => fake, configurable: true});
  window.__keyboard = height => { fake.height = innerHeight - height; fake.dispatchEvent(new Event('resize')); };
}"""

VISIBLE = """() => {
  const box = el => el.getBoundingClientRect();
  const messages = document.querySelectorAll('[data-testid="message"]');
  return {header: box(document.querySelector('.site-header')).top,
          input: box(document.querySelector('[data-testid="composer-input"]')).bottom,
          send: box(document.querySelector('[data-testid="composer-send"]')).bottom,
          composer: box(document.querySelector('#composer')).top,
          newest: box(messages[messages.length - 1]).bottom};
}"""


@pytest.mark.parametrize("viewport", [PHONE_TALL, PHONE_LANDSCAPE], ids=["390x844", "844x390"])
def test_the_on_screen_keyboard_hides_neither_the_box_nor_the_newest_message(phone, chat_server, viewport):
    from playwright.sync_api import expect

    page = phone(viewport, "zh-CN")
    page.add_init_script(f"({KEYBOARD_VIEWPORT})()")
    open_chat(page, chat_server.url)
    ask(page, "充值没到账怎么办")
    wait_for_answer(page)
    ask(page, "好的")
    expect(page.locator('[data-testid="message"][data-sender="player"]')).to_have_count(2)

    keyboard = viewport["height"] // 2 if viewport["height"] > 500 else 200
    page.evaluate(f"window.__keyboard({keyboard})")
    page.wait_for_timeout(200)
    above = viewport["height"] - keyboard
    seen = page.evaluate(VISIBLE)
    assert seen["input"] <= above and seen["send"] <= above, f"the keyboard covers the box: {seen}"
    assert seen["header"] >= 0, f"the header slid away: {seen}"
    assert 0 < seen["newest"] <= seen["composer"], f"the newest message is out of sight: {seen}"

    # Closed again, the page fills the screen.
    page.evaluate("window.__keyboard(0)")
    page.wait_for_timeout(200)
    assert page.evaluate(VISIBLE)["send"] > above


# How many lines of the chat's text fit between the header and the box.
CHAT_LINES_IN_SIGHT = """() => {
  const scroller = document.getElementById('scroller');
  const style = getComputedStyle(scroller);
  const line = parseFloat(getComputedStyle(document.querySelector('[data-testid="message-text"]')).lineHeight);
  return (scroller.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom)) / line;
}"""


def test_a_phone_in_landscape_with_its_keyboard_open_keeps_two_lines_of_the_chat_in_sight(phone, chat_server):
    """844 x 390 with the keyboard over 200 px of it: the header (64 px) and the box (123 px)
    left the chat 24 px, a timestamp's worth, between them."""
    from playwright.sync_api import expect

    page = phone(PHONE_LANDSCAPE, "en-US")
    page.add_init_script(f"({KEYBOARD_VIEWPORT})()")
    open_chat(page, chat_server.url)
    ask(page, "How do I recover my account?")
    wait_for_answer(page)
    assert page.evaluate(CHAT_LINES_IN_SIGHT) >= 5  # before the keyboard, the header as it was
    expect(page.locator(".brand__logo")).to_be_visible()

    page.evaluate("window.__keyboard(200)")
    page.wait_for_function("() => document.body.getBoundingClientRect().height <= 190")
    assert page.evaluate(CHAT_LINES_IN_SIGHT) >= 2
    # Still in sight above the keyboard: who the player talks to, the box, "Talk to a human".
    for testid in ("conv-state", "composer-send", "handoff", "language-en"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 190, (testid, box)
    expect(page.get_by_role("heading", level=1)).to_have_text("Starfall Legends support")  # for screen readers

    page.evaluate("window.__keyboard(0)")
    expect(page.locator(".brand__logo")).to_be_visible()


# Every element of the page that moves: an animation, or a transition of more than 0 s.
MOVING = """() => [...document.querySelectorAll('body *')].flatMap(el => {
  const style = getComputedStyle(el);
  const moves = style.animationName !== 'none' || style.transitionDuration.split(',').some(d => parseFloat(d) > 0);
  return moves ? [el.className.toString() || el.tagName] : [];
})"""


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"], ids=["zh-hans", "en"])
def test_a_player_who_asks_for_less_motion_sees_nothing_move(phone, chat_server, locale):
    page = phone(PHONE, locale, reduced_motion="reduce")
    open_chat(page, chat_server.url)
    ask(page, "垃圾游戏")
    moved = set()
    for _ in range(20):  # the typing dots, the streaming caret, the quick replies as they come
        moved.update(page.evaluate(MOVING))
        moved.update(page.evaluate("() => document.getAnimations().map(a => a.animationName || 'transition')"))
        page.wait_for_timeout(100)
    wait_for_answer(page)
    moved.update(page.evaluate(MOVING))
    assert not moved


# Each text the latest answer shows, in turn (its caret is an empty element).
RECORD_ANSWER_TEXTS = """() => {
  window.__shown = [];
  new MutationObserver(() => {
    const answers = document.querySelectorAll('[data-testid="message"][data-sender="bot"]');
    const last = answers[answers.length - 1];
    const text = last ? last.querySelector('[data-testid="message-text"]').textContent.trim() : '';
    if (text && text !== window.__shown[window.__shown.length - 1]) window.__shown.push(text);
  }).observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true});
}"""


def test_a_player_who_asks_for_less_motion_sees_each_sentence_whole_as_it_comes(phone, fake_ernie_thread, tmp_path):
    """ERNIE sends a sentence at a time, which the page types out over up to 300 ms: with
    reduced motion asked for, the text still ran across the bubble."""
    sentences = ["Top-ups usually arrive within five minutes of payment. ", "Send us the order number if not."]
    fake_ernie_thread.configure(reply=sentences, delay=0.4)
    server = servers.demo_daphne(tmp_path, **fake_ernie_env(fake_ernie_thread))
    try:
        page = phone(PHONE, "en-US", reduced_motion="reduce")
        open_chat(page, server.url)
        page.evaluate(RECORD_ANSWER_TEXTS)
        ask(page, "my top-up didn't arrive")
        wait_for_answer(page)
        assert page.evaluate("() => window.__shown") == [sentences[0].strip(), "".join(sentences)]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def slow_answers_server(tmp_path_factory):
    """Answers that take a while to stream (a slow LLM), so the player can scroll meanwhile."""
    server = servers.demo_daphne(tmp_path_factory.mktemp("slow_answers"), LOCAL_PROVIDER_CHUNK_DELAY="0.15")
    yield server
    server.stop()


# How far the history is scrolled, how far from its end, and whether the answer still streams.
SCROLL = """() => {
  const s = document.getElementById('scroller');
  const answers = document.querySelectorAll('[data-testid="message"][data-sender="bot"]');
  return {top: s.scrollTop, below: s.scrollHeight - s.scrollTop - s.clientHeight,
          overflow: s.scrollHeight - s.clientHeight,
          streaming: answers.length > 0 && answers[answers.length - 1].dataset.status === 'streaming'};
}"""


@pytest.mark.parametrize(
    "viewport, locale", [(PHONE, "zh-CN"), (PHONE_LANDSCAPE, "en-US")], ids=["360x640-zh-hans", "844x390-en"]
)
def test_the_history_follows_the_answer_until_the_player_scrolls_up_to_read(
    phone, slow_answers_server, viewport, locale
):
    from playwright.sync_api import expect

    page = phone(viewport, locale)
    open_chat(page, slow_answers_server.url)
    ask(page, "充值没到账怎么办")
    page.wait_for_function(
        "() => { const s = document.getElementById('scroller'); return s.scrollHeight - s.clientHeight > 80; }"
    )
    # While it streams, the newest words stay in sight.
    for _ in range(5):
        seen = page.evaluate(SCROLL)
        assert seen["below"] < 2, f"the newest text is below the view: {seen}"
        page.wait_for_timeout(100)
    assert page.evaluate(SCROLL)["streaming"], "the answer ended before the player could scroll"

    # A short flick up to read a line again: the view stays where the player put it.
    page.evaluate("() => { document.getElementById('scroller').scrollTop -= 60; }")
    held = page.evaluate(SCROLL)["top"]
    jump = page.locator("#jump")
    expect(jump).to_be_visible()
    expect(jump).to_have_accessible_name("新消息" if locale == "zh-CN" else "New messages")  # not "down arrow"
    # Above the box, however tall the player's text has made it, never over it.
    page.get_by_test_id("composer-input").fill("1\n2\n3\n4")
    page.wait_for_timeout(100)
    cue, box = jump.bounding_box(), page.get_by_test_id("composer-input").bounding_box()
    assert cue["y"] + cue["height"] <= box["y"], f"the cue covers the box: {cue} {box}"
    for _ in range(10):
        assert abs(page.evaluate(SCROLL)["top"] - held) < 2, "the view jumped back to the bottom"
        page.wait_for_timeout(100)
    assert page.evaluate(SCROLL)["streaming"]

    # The cue takes them back to the newest words, and the view follows again (a second of
    # the stream is enough to see it; the answer's end is not waited for).
    jump.tap()
    expect(jump).to_be_hidden()
    page.wait_for_timeout(300)
    for _ in range(10):
        seen = page.evaluate(SCROLL)
        assert seen["below"] < 2, f"the view no longer follows the answer: {seen}"
        page.wait_for_timeout(100)


@pytest.mark.parametrize(
    "locale, names",
    [
        ("zh-CN", ["充值未到账", "找回账号", "当前活动"]),
        ("en-US", ["Top-up not received", "Account recovery", "Current events"]),
    ],
    ids=["zh-hans", "en"],
)
def test_the_suggested_questions_of_a_new_chat_are_buttons_to_a_screen_reader(phone, chat_server, locale, names):
    from playwright.sync_api import expect

    page = phone(PHONE, locale)
    open_chat(page, chat_server.url)
    for name in names:
        expect(page.get_by_role("button", name=name)).to_be_visible()
    page.get_by_role("button", name=names[1]).tap()
    expect(page.locator('[data-testid="message"][data-sender="player"]')).to_have_count(1)


# The header's state line: its text, and whether any of it is cut off.
STATE_LINE = """() => {
  const line = document.querySelector('[data-testid="conv-state"]');
  const text = line.querySelector('.conv-state__text');
  const shown = text.getBoundingClientRect(), room = line.getBoundingClientRect();
  return {text: text.textContent, cut: text.scrollWidth > text.clientWidth + 1 || shown.right > room.right + 1
          || shown.bottom > room.bottom + 1};
}"""


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"], ids=["en", "zh-hans"])
def test_on_a_narrow_phone_the_header_says_in_full_who_the_player_is_talking_to(phone, chat_server, locale):
    from playwright.sync_api import expect

    page = phone(PHONE, locale)
    open_chat(page, chat_server.url)
    state = page.get_by_test_id("conv-state")
    expect(state).to_have_attribute("data-state", "bot")
    assert not page.evaluate(STATE_LINE)["cut"], page.evaluate(STATE_LINE)

    page.get_by_test_id("handoff").tap()
    expect(state).to_have_attribute("data-state", "waiting")
    seen = page.evaluate(STATE_LINE)
    assert seen["text"] in ("Waiting for a support agent…", "正在等待人工客服…") and not seen["cut"], seen


def test_a_screen_reader_is_told_once_that_the_message_is_too_long_not_the_count_at_every_key(phone, chat_server):
    from playwright.sync_api import expect

    page = phone(PHONE_TALL, "en-US")
    open_chat(page, chat_server.url)
    page.evaluate(RECORD_ANNOUNCEMENTS)
    max_chars = int(page.locator("#chat-app").get_attribute("data-max-chars"))
    box = page.get_by_test_id("composer-input")
    box.fill("a" * (max_chars - 3))
    box.press("End")
    page.keyboard.type("bcdefg")  # past 80 % and over the limit, key by key

    counter = page.locator("#composer-counter")
    expect(counter).to_have_text(f"{max_chars + 3} / {max_chars}")
    live = counter.evaluate("c => !!c.closest('[aria-live]:not([aria-live=\"off\"]), [role=status], [role=alert]')")
    assert not live, "the count would be read after every key"
    expect(box).to_have_attribute("aria-invalid", "true")
    page.wait_for_timeout(200)
    said = [text for text, _ in page.evaluate("() => window.__said")]
    assert said == [f"Your message is too long ({max_chars + 1} of {max_chars} characters). Please shorten it."]


def test_an_inline_form_field_is_big_enough_that_an_iphone_does_not_zoom_in_on_it(phone, chat_server):
    """iOS Safari zooms the page in on a field whose text is under 16 px, and leaves it zoomed."""
    page = phone(PHONE, "zh-CN")
    open_chat(page, chat_server.url)
    ask(page, "where is my stuff")  # asks for the item (a text field) and the server (a select)
    wait_for_answer(page)
    fields = '[data-testid="inline-form"] input, [data-testid="inline-form"] select, [data-testid="composer-input"]'
    sizes = page.evaluate(
        "fields => [...document.querySelectorAll(fields)]"
        ".map(el => [el.name || el.id, parseFloat(getComputedStyle(el).fontSize)])",
        fields,
    )
    assert {name for name, _ in sizes} >= {"server", "item_name", "composer-input"}
    assert all(size >= 16 for _, size in sizes), sizes


def close_chat(server, conversation_id: str) -> None:
    """Staff closed the chat while the player was away."""
    servers.manage(
        server.env,
        "shell",
        "-c",
        "from django.utils import timezone; from chat.models import Conversation; "
        f"Conversation.objects.filter(pk={conversation_id}).update(state='closed', closed_at=timezone.now())",
    )


def test_a_keyboard_and_screen_reader_player_can_rate_a_closed_chat(phone, chat_server):
    from playwright.sync_api import expect

    page = phone(PHONE, "en-US")
    open_chat(page, chat_server.url)
    ask(page, "How do I recover my account?")
    wait_for_answer(page)
    close_chat(chat_server, page.locator("#chat-app").get_attribute("data-conversation"))
    page.reload()
    open_chat(page, chat_server.url)

    card = page.get_by_test_id("csat")
    scores = card.get_by_role("group", name="This chat is closed. How did we do?")
    expect(scores).to_be_visible()
    expect(card.get_by_role("button", name="Rate 4 out of 5")).to_have_attribute("aria-pressed", "false")
    expect(card.get_by_role("textbox", name="Anything to add? (optional)")).to_be_visible()

    page.evaluate(RECORD_ANNOUNCEMENTS)
    card.get_by_role("button", name="Rate 4 out of 5").focus()
    page.keyboard.press("Enter")
    expect(card.get_by_role("button", name="Rate 4 out of 5")).to_have_attribute("aria-pressed", "true")
    expect(card.get_by_role("button", name="Rate 5 out of 5")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Tab")  # 5
    page.keyboard.press("Tab")  # the comment
    page.keyboard.type("quick and clear")
    page.keyboard.press("Tab")  # Send rating
    page.keyboard.press("Enter")

    expect(card).to_contain_text("Thank you for your feedback!")
    # The button the focus was on is gone: the focus goes on in the message box, and the
    # thanks is said.
    expect(page.get_by_test_id("composer-input")).to_be_focused()
    expect(page.get_by_test_id("announcer")).to_contain_text("Thank you for your feedback!")


@pytest.mark.parametrize("locale, you", [("zh-CN", "我"), ("en-US", "You")], ids=["zh-hans", "en"])
def test_a_screen_reader_reading_the_history_hears_which_lines_are_the_players(phone, chat_server, locale, you):
    from playwright.sync_api import expect

    page = phone(PHONE, locale)
    open_chat(page, chat_server.url)
    ask(page, "How do I recover my account?")
    wait_for_answer(page)
    mine = page.locator('[data-testid="message"][data-sender="player"]')
    said = re.compile(rf"^{you}: How do I recover my account\?")
    expect(mine).to_have_text(said)

    page.reload()  # the history too
    open_chat(page, chat_server.url)
    expect(mine).to_have_text(said)


# The message box's hint as the player sees it: cut short when it needs more lines than the box has.
COMPOSER_HINT = """() => {
  const box = document.querySelector('[data-testid="composer-input"]');
  return {hint: box.placeholder, cut: box.value === '' && box.scrollHeight > box.clientHeight + 1};
}"""


def test_on_a_phone_the_message_box_shows_its_whole_hint_when_no_agent_is_online(phone, chat_server):
    """At 360 px "Leave a message for our support agents…" showed its first line, the
    second cut in half under it: the player read "Leave a message for our support"."""
    from playwright.sync_api import expect

    page = phone(PHONE, "en-US")
    open_chat(page, chat_server.url)
    page.get_by_test_id("handoff").tap()
    expect(page.get_by_test_id("conv-state")).to_have_attribute("data-state", "waiting")
    box = page.get_by_test_id("composer-input")
    expect(box).to_have_attribute("placeholder", "Leave a message for our support agents…")
    assert not page.evaluate(COMPOSER_HINT)["cut"], page.evaluate(COMPOSER_HINT)


def test_a_phone_that_goes_offline_says_so_at_once_and_sends_the_message_when_it_is_back(phone, chat_server):
    """The browser's `offline` changed nothing while the socket still looked open (until a ping
    went unanswered, a minute on): the header said all was well, and a message read "Sending…"."""
    from playwright.sync_api import expect

    page = phone(PHONE_TALL, "zh-CN")
    open_chat(page, chat_server.url)
    state = page.get_by_test_id("conv-state")

    page.context.set_offline(True)  # the socket stays open: only the browser knows
    offline = "网络已断开，现在发送的消息会在恢复联网后自动发出。"
    expect(state).to_have_text(offline, timeout=2_000)
    expect(page.get_by_test_id("connection")).to_contain_text(offline)
    box = page.get_by_test_id("composer-input")
    box.tap()
    box.fill("我的装备不见了")
    page.get_by_test_id("composer-send").tap()
    mine = page.locator('[data-testid="message"][data-sender="player"]')
    expect(mine).to_have_attribute("data-status", "pending")
    expect(mine.locator(".msg__status")).to_have_text("连接恢复后将自动发送")
    page.wait_for_timeout(800)  # a try to reconnect, which fails offline
    expect(state).to_have_text(offline)

    page.context.set_offline(False)
    expect(state).to_have_text("智能助手为您服务", timeout=2_000)  # at once, not after the backoff
    expect(mine).to_have_attribute("data-status", "sent")
    expect(page.locator(BOT_MESSAGES)).to_have_count(1)  # and answered, once
    expect(mine).to_have_count(1)
