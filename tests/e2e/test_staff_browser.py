"""A player and an agent, each in their own browser context (Debian Chromium), against
a real daphne. The offline provider streams slowly here, so that the agent can watch
an answer grow and take the chat over in the middle of it."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests import servers
from tests.e2e.socket_faults import relay, tail_lost
from tests.fake_ernie_fixtures import fake_ernie_env

QUESTION = "充值没到账怎么办"
PLAYER_BOT = '[data-testid="message"][data-sender="bot"]'
PLAYER_SYSTEM = '[data-testid="message"][data-sender="system"]'

# The rating card's place: right after the system line "This chat has been closed…".
CLOSED_LINE_BEFORE = "card => card.previousElementSibling && card.previousElementSibling.dataset.event === 'closed'"

# Stands in for the browser's Notification API and records what the dashboard shows.
FAKE_NOTIFICATIONS = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push({ title: title, body: (options || {}).body || "" }); }
  static requestPermission() { return Promise.resolve("granted"); }
};
window.Notification.permission = "granted";
"""


@pytest.fixture(scope="module")
def staff_server(tmp_path_factory):
    """daphne on the embedded default; answers take ~15 s to stream."""
    tmp = tmp_path_factory.mktemp("staff_server")
    env = servers.product_env(
        SQLITE_PATH=str(tmp / "db.sqlite3"), LOCAL_PROVIDER_CHUNK_DELAY="0.15", LOCAL_PROVIDER_CHUNK_CHARS="4"
    )
    servers.demo_database(tmp / "db.sqlite3")
    server = servers.Daphne(env, tmp / "daphne.log").start()
    yield server
    server.stop()


@pytest.fixture
def open_context(browser):
    contexts, errors = [], []

    def open_page(viewport=(1280, 860), init_script: str = ""):
        context = browser.new_context(locale="en-US", viewport={"width": viewport[0], "height": viewport[1]})
        context.set_default_timeout(15_000)
        if init_script:
            context.add_init_script(init_script)
        contexts.append(context)
        page = context.new_page()
        # The stack too: "Cannot read properties of null" alone does not say where.
        page.on("pageerror", lambda exc: errors.append(f"{exc} at {page.url}\n{exc.stack}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_player(page, base_url: str) -> str:
    from playwright.sync_api import expect

    page.goto(base_url + "/")
    expect(page.locator("#chat-app")).to_have_attribute("data-connection", "open")
    return page.locator("#chat-app").get_attribute("data-conversation")


def ask(page, text: str) -> None:
    box = page.get_by_test_id("composer-input")
    box.fill(text)
    box.press("Enter")


def sign_in_as_agent(page, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/staff/")
    assert "/accounts/login/" in page.url  # not signed in yet
    page.fill("#id_username", "agent")
    page.fill("#id_password", "agent-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#staff-app")).to_have_attribute("data-connection", "open")
    expect(page.get_by_test_id("me")).to_have_text("Alice")


def close_chat(page) -> None:
    """Close the chat the agent has open: Close, then the confirmation."""
    page.get_by_test_id("close").click()
    page.get_by_test_id("close-confirm").click()


def take_over_a_new_chat(agent, player, base_url: str, question: str = QUESTION) -> str:
    """The player asks; the agent opens the chat and takes it over. Its id."""
    from playwright.sync_api import expect

    cid = open_player(player, base_url)
    ask(player, question)
    agent.get_by_test_id("filter-open").click()
    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    agent.get_by_test_id("take-over").click()
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    return cid


def an_agent_and_a_new_chat(open_context, base_url: str, question: str):
    """Alice signed in; a new player asks `question`. (agent, player, its id)"""
    agent = open_context()
    sign_in_as_agent(agent, base_url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, base_url)
    ask(player, question)
    return agent, player, cid


def an_agent_watching_a_new_chat(open_context, base_url: str, question: str):
    """Alice signed in; a new player asks `question`; she opens the chat. (agent, player, its id)"""
    agent, player, cid = an_agent_and_a_new_chat(open_context, base_url, question)
    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    return agent, player, cid


def agent_answer_lengths(page, seconds: float) -> list[int]:
    """The watched bot answer's visible length, sampled while it streams."""
    lengths: list[int] = []
    deadline = time.monotonic() + seconds
    answer = page.locator('#messages [data-sender="bot"]').last
    while time.monotonic() < deadline:
        length = len(answer.get_by_test_id("message-text").inner_text())
        if length and (not lengths or lengths[-1] != length):
            lengths.append(length)
        page.wait_for_timeout(50)
    return lengths


def test_an_agent_watches_the_bot_stream_takes_over_chats_and_hands_back(open_context, staff_server):
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, staff_server.url)
    ask(player, QUESTION)

    # The new chat appears on the dashboard without a reload; the agent opens it mid-answer.
    row = agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')
    expect(row).to_be_visible()
    row.click()
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "bot")
    expect(agent.locator('#messages [data-sender="bot"]')).to_have_attribute("data-status", "streaming")
    lengths = agent_answer_lengths(agent, 1.5)
    assert len(lengths) >= 3, f"the answer did not grow token by token on the dashboard: {lengths}"
    expect(agent.get_by_test_id("case-player")).not_to_be_empty()
    expect(agent.get_by_test_id("case-connection")).to_have_text("connected")  # told when the chat opened

    # Take over: the answer stops for both, the player is told who joined (in the Chinese the
    # player wrote and the bot answered in, on the English page).
    agent.get_by_test_id("take-over").click()
    expect(player.locator(PLAYER_BOT).first).to_have_attribute("data-status", "interrupted")
    expect(player.locator(PLAYER_SYSTEM).last).to_have_text("Alice 已加入对话。")
    expect(player.get_by_test_id("conv-state")).to_contain_text("Chatting with Alice")
    expect(player.get_by_test_id("handoff")).to_be_hidden()
    expect(agent.locator('#messages [data-sender="bot"]')).to_have_attribute("data-status", "interrupted")
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    expect(agent.get_by_test_id("case-events")).to_contain_text("taken over · Alice")
    shown = player.locator(PLAYER_BOT).first.get_by_test_id("message-text").inner_text()
    assert shown.strip(), "the partial answer stays on the player's screen"

    # Messages both ways, with typing indicators.
    box = agent.get_by_test_id("agent-input")
    expect(box).to_be_enabled()
    box.type("Hi, I'm Alice")
    expect(player.get_by_test_id("agent-typing")).to_have_text("Alice is typing…")
    box.type(". Let me look at your order.")
    box.press("Enter")
    from_agent = player.locator('[data-testid="message"][data-sender="agent"]')
    expect(from_agent).to_have_count(1)
    expect(from_agent.first.get_by_test_id("message-text")).to_have_text("Hi, I'm Alice. Let me look at your order.")
    expect(from_agent.first).to_contain_text("Alice")
    expect(player.get_by_test_id("agent-typing")).to_be_hidden()

    player.get_by_test_id("composer-input").type("Thanks! It is order SL2025061201")
    expect(agent.get_by_test_id("player-typing")).to_be_visible()
    player.get_by_test_id("composer-input").press("Enter")
    from_player = agent.locator('#messages [data-sender="player"] [data-testid="message-text"]')
    expect(from_player.last).to_have_text("Thanks! It is order SL2025061201")
    expect(agent.get_by_test_id("case-facts")).to_contain_text("SL2025061201")  # read for her, not the bot
    player.wait_for_timeout(400)
    expect(player.locator(PLAYER_BOT)).to_have_count(1)  # the bot stayed out of it

    # An internal note: staff see it, the player never does.
    agent.get_by_test_id("note-input").fill("Order paid at 10:02, checking with billing")
    agent.get_by_test_id("note-add").click()
    expect(agent.locator('#messages [data-internal="1"]')).to_contain_text("checking with billing")
    player.wait_for_timeout(300)
    expect(player.get_by_text("checking with billing")).to_have_count(0)
    box.fill("Found it: your top-up has arrived.")
    box.press("Enter")
    expect(from_agent).to_have_count(2)

    # Hand back, the player answered: the bot answers the next question again.
    agent.get_by_test_id("hand-back").click()
    expect(player.locator(PLAYER_SYSTEM).last).to_have_text("You are chatting with our assistant again.")
    expect(player.get_by_test_id("conv-state")).to_contain_text("Chatting with our assistant")
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "bot")
    expect(agent.get_by_test_id("case-intent")).to_have_text("Top-up not received")
    ask(player, "How do I get a refund?")
    expect(player.locator(PLAYER_BOT)).to_have_count(2)
    expect(player.locator(PLAYER_BOT).last.get_by_test_id("message-text")).not_to_be_empty()
    expect(agent.locator('#messages [data-sender="bot"]').last).to_have_attribute("data-status", "streaming")
    # What the bot understood of the new question shows while its answer streams, not after.
    expect(agent.get_by_test_id("case-intent")).to_have_text("Refund")
    assert agent.locator('#messages [data-sender="bot"]').last.get_attribute("data-status") == "streaming"

    # Close: the player is asked for a rating in the chat, and thanked for it.
    close_chat(agent)
    card = player.get_by_test_id("csat")
    expect(card).to_be_visible()
    expect(player.locator(PLAYER_SYSTEM).last).to_have_attribute("data-event", "closed")
    assert card.evaluate(CLOSED_LINE_BEFORE), "the rating card comes after the line saying the chat was closed"
    card.get_by_test_id("csat-score-5").click()
    card.get_by_test_id("csat-comment").fill("Alice was quick")
    card.get_by_test_id("csat-submit").click()
    expect(card).to_have_text("Thank you for your feedback!")


@pytest.mark.parametrize(
    ("page_language", "question", "lines", "rating", "thanks"),
    [
        (
            "en",
            "充值没到账怎么办",
            ["Alice 已加入对话。", "本次对话已结束。如需帮助，随时发消息即可开始新的对话。"],
            "本次会话已结束。您对我们的服务满意吗？",
            "感谢您的反馈！",
        ),
        (
            "zh-hans",
            "my top-up didn't arrive, what do I do",
            ["Alice has joined the chat.", "This chat has been closed. Write again any time to start a new one."],
            "This chat is closed. How did we do?",
            "Thank you for your feedback!",
        ),
    ],
)
def test_the_lines_after_the_answers_and_the_rating_speak_the_language_the_player_writes(
    open_context, staff_server, page_language, question, lines, rating, thanks
):
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    player.goto(staff_server.url + "/")
    player.get_by_test_id(f"language-{page_language}").click()  # the page's language, kept in a cookie
    expect(player.locator("html")).to_have_attribute("lang", page_language)
    take_over_a_new_chat(agent, player, staff_server.url, question)
    expect(player.locator(PLAYER_SYSTEM).last).to_have_text(lines[0])

    close_chat(agent)
    card = player.get_by_test_id("csat")
    expect(card).to_be_visible()
    expect(player.locator(PLAYER_SYSTEM)).to_have_text(lines)
    expect(card).to_contain_text(rating)
    card.get_by_test_id("csat-score-4").click()
    card.get_by_test_id("csat-submit").click()
    expect(card).to_have_text(thanks)
    expect(player.locator("html")).to_have_attribute("lang", page_language)  # the page itself stays as chosen


def test_close_asks_first_so_a_misclick_beside_take_over_does_not_end_the_players_chat(open_context, staff_server):
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    take_over_a_new_chat(agent, player, staff_server.url)

    agent.get_by_test_id("close").click()
    confirm = agent.get_by_test_id("confirm-close")
    expect(confirm).to_contain_text("Close this chat? The player will be asked to rate it.")
    expect(agent.get_by_test_id("close")).to_be_hidden()
    agent.get_by_test_id("close-cancel").click()
    expect(confirm).to_be_hidden()
    expect(agent.get_by_test_id("close")).to_be_visible()
    agent.wait_for_timeout(300)  # what a close would have sent by now
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    expect(player.get_by_test_id("csat")).to_have_count(0)

    agent.get_by_test_id("close").click()
    agent.keyboard.press("Escape")  # Escape keeps it open too
    expect(confirm).to_be_hidden()

    close_chat(agent)
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")
    expect(player.get_by_test_id("csat")).to_be_visible()
    expect(confirm).to_be_hidden()


def test_a_player_away_when_the_chat_is_closed_finds_its_end_and_the_rating_on_return(open_context, staff_server):
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, staff_server.url)
    ask(player, "My top-up of 60 gems is missing")
    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    agent.get_by_test_id("take-over").click()
    expect(player.locator(PLAYER_SYSTEM).last).to_have_text("Alice has joined the chat.")
    player.goto("about:blank")  # the player is away

    agent.get_by_test_id("agent-input").fill("Found it: your 60 gems are in your mailbox now.")
    agent.get_by_test_id("agent-input").press("Enter")
    expect(agent.locator('#messages [data-sender="agent"]')).to_have_count(1)
    close_chat(agent)
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")

    open_player(player, staff_server.url)
    reply = player.locator('[data-testid="message"][data-sender="agent"]')
    expect(reply.get_by_test_id("message-text")).to_have_text("Found it: your 60 gems are in your mailbox now.")
    expect(player.locator(PLAYER_SYSTEM).last).to_have_attribute("data-event", "closed")
    card = player.get_by_test_id("csat")
    expect(card).to_be_visible()
    assert card.evaluate(CLOSED_LINE_BEFORE)
    card.get_by_test_id("csat-score-4").click()
    card.get_by_test_id("csat-submit").click()
    expect(card).to_have_text("Thank you for your feedback!")

    # And a new chat starts below it.
    ask(player, QUESTION)
    expect(player.locator(f"#messages {PLAYER_BOT}")).to_have_count(1)
    player.reload()
    expect(player.locator("#chat-app")).to_have_attribute("data-connection", "open")
    expect(player.get_by_test_id("csat")).to_have_count(0)  # rated, and a new chat under way


def test_a_player_asks_for_a_human_and_agents_see_the_queue_and_get_notified(open_context, staff_server):
    from playwright.sync_api import expect

    # Nobody is online: the player is told so and leaves a message.
    early = open_context(viewport=(420, 860))
    early_id = open_player(early, staff_server.url)
    early.get_by_test_id("handoff").click()
    notice = early.locator(PLAYER_SYSTEM).last
    expect(notice).to_have_attribute("data-event", "no_agent")
    expect(notice).to_contain_text("No support agent is online right now")
    expect(early.get_by_test_id("conv-state")).to_contain_text("Waiting for a support agent")
    expect(early.get_by_test_id("composer-input")).to_have_attribute(
        "placeholder", "Leave a message for our support agents…"
    )
    ask(early, "My account was hacked, please call me back")
    expect(early.locator('[data-testid="message"][data-sender="player"]')).to_have_attribute("data-status", "sent")

    # An agent signs in: the queue badge and the waiting time are there.
    agent = open_context(init_script=FAKE_NOTIFICATIONS)
    sign_in_as_agent(agent, staff_server.url)
    expect(agent.get_by_test_id("queue-badge")).to_have_text("1")
    agent.get_by_test_id("filter-waiting").click()
    waiting = agent.locator(f'[data-testid="conversation-row"][data-id="{early_id}"]')
    expect(waiting).to_have_attribute("data-state", "waiting")
    expect(waiting.get_by_test_id("waiting-time")).to_contain_text("waiting 0:")
    expect(waiting).to_contain_text("My account was hacked")

    # A second player asks in words while the agent is online: queued, badge and notification.
    later = open_context(viewport=(420, 860))
    later_id = open_player(later, staff_server.url)
    ask(later, "转人工")
    expect(later.locator(PLAYER_SYSTEM).last).to_have_attribute("data-event", "waiting")
    expect(agent.get_by_test_id("queue-badge")).to_have_text("2")
    expect(agent.locator(f'[data-testid="conversation-row"][data-id="{later_id}"]')).to_be_visible()
    agent.wait_for_function("window.__notes.length >= 1")
    notes = agent.evaluate("window.__notes")
    assert notes[-1]["title"] == "A player is waiting for a human"
    assert notes[-1]["body"].endswith("(the player asked for a person)")
    expect(later.locator(PLAYER_BOT)).to_have_count(0)  # asking for a human is not a question for the bot

    # The message left while nobody was online reaches the next agent.
    waiting.click()
    expect(agent.locator('#messages [data-sender="player"]').last).to_contain_text("My account was hacked")
    expect(agent.get_by_test_id("case-connection")).to_have_attribute("data-online", "1")
    agent.get_by_test_id("take-over").click()
    expect(early.locator(PLAYER_SYSTEM).last).to_have_text("Alice has joined the chat.")
    expect(agent.get_by_test_id("queue-badge")).to_have_text("1")

    # The other player has left: opening their chat says so, and since when.
    later.close()
    agent.locator(f'[data-testid="conversation-row"][data-id="{later_id}"]').click()
    expect(agent.get_by_test_id("case-connection")).to_have_attribute("data-online", "0")
    expect(agent.get_by_test_id("case-connection")).to_contain_text("disconnected at")


# Records the ids in every batched `conversations` frame the dashboard receives.
RECORD_ROW_BATCHES = """
window.__batches = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (ev) => {
      try {
        const f = JSON.parse(ev.data);
        if (f.type === "conversations") window.__batches.push(f.conversations.map((c) => c.id));
      } catch (e) { /* not JSON */ }
    });
  }
};
"""


def test_chats_that_change_at_once_reach_the_dashboard_in_batched_updates(open_context, staff_server):
    from playwright.sync_api import expect

    agent = open_context(init_script=RECORD_ROW_BATCHES)
    sign_in_as_agent(agent, staff_server.url)
    players = [open_context(viewport=(420, 860)) for _ in range(3)]
    chats = [open_player(player, staff_server.url) for player in players]
    for n, player in enumerate(players):
        ask(player, f"Question {n}: how do I get a refund?")

    for n, cid in enumerate(chats):
        row = agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')
        expect(row).to_contain_text(f"Question {n}: how do I get a refund?")
        expect(row).to_have_attribute("data-state", "bot")
    batched = {str(cid) for batch in agent.evaluate("window.__batches") for cid in batch}
    assert set(chats) <= batched  # the rows came in batched `conversations` frames


def test_the_dashboard_resumes_when_the_end_says_the_answer_is_longer_than_it_holds(open_context, staff_server):
    """Every delta from the third to the `end` is lost on the agent's socket, so no offset
    shows a gap: only the `end`'s final length `n` does (what a dashboard sees after
    resuming from a server process whose answer buffer was behind). It resumes rather
    than keep a cut answer."""
    from playwright.sync_api import expect

    state = {"deltas": 0, "ended": False, "sent": []}

    def route(ws):
        relay(ws, state["sent"], lambda frame, ws, server: tail_lost(state, frame))

    agent = open_context()
    agent.route_web_socket("**/ws/staff/", route)
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, staff_server.url)
    ask(player, QUESTION)
    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    answer = agent.locator('#messages [data-sender="bot"]').last
    expect(answer).to_have_attribute("data-status", "streaming")
    deadline = time.monotonic() + 15
    while state["deltas"] < 6 and time.monotonic() < deadline:
        agent.wait_for_timeout(50)
    assert state["deltas"] >= 6, "the answer did not stream to the dashboard"
    agent.get_by_test_id("take-over").click()  # a few deltas lost, then the answer ends
    expect(answer).to_have_attribute("data-status", "interrupted")

    assert any(f["type"] == "resume" and f["streams"] for f in state["sent"]), state["sent"]
    shown = answer.get_by_test_id("message-text").inner_text()
    expect(player.locator(PLAYER_BOT).first).to_have_attribute("data-status", "interrupted")
    # The stored answer, as a freshly opened dashboard gets it.
    agent.reload()
    expect(agent.locator('#messages [data-sender="bot"]').last.get_by_test_id("message-text")).to_have_text(shown)


def test_the_tab_title_counts_the_chats_waiting_as_they_come_and_go(open_context, staff_server):
    """An agent with the dashboard in a background tab and notifications off saw nothing of
    players waiting: the tab's title now leads with their number, in both languages."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    expect(agent.get_by_test_id("queue-badge")).to_have_text(re.compile(r"\d+"))
    expect_title_to_count_the_queue(agent, "({n}) Support dashboard", "Support dashboard")

    player = open_context(viewport=(420, 860))
    cid = open_player(player, staff_server.url)
    player.get_by_test_id("handoff").click()
    expect(agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')).to_be_visible()
    expect_title_to_count_the_queue(agent, "({n}) Support dashboard", "Support dashboard", at_least=1)

    in_chinese(agent, staff_server.url)
    expect_title_to_count_the_queue(agent, "（{n}）客服工作台", "客服工作台", at_least=1)

    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    agent.get_by_test_id("take-over").click()
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    expect_title_to_count_the_queue(agent, "（{n}）客服工作台", "客服工作台")
    close_chat(agent)  # Alice's place, for the tests after this one on the same server
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def test_an_agent_who_is_away_is_not_called_to_players_waiting(open_context, tmp_path):
    """Alice chose Away (a break, a meeting): she takes no new chat, nor does AUTO_ASSIGN give
    her one, yet each player who asked for a person popped up "A player is waiting" on her
    desktop and in her tab's title, on every dashboard she had open."""
    from playwright.sync_api import expect

    server = servers.demo_daphne(tmp_path)
    try:
        alice = open_context(init_script=FAKE_NOTIFICATIONS)
        sign_in_as_agent(alice, server.url)
        second_tab = open_context(init_script=FAKE_NOTIFICATIONS)
        sign_in_as_agent(second_tab, server.url)
        alice.get_by_test_id("my-status").select_option("away")
        expect(second_tab.get_by_test_id("my-status")).to_have_value("away")  # chosen in one, away in both

        first = open_context(viewport=(420, 860))
        open_player(first, server.url)
        ask(first, "转人工")
        expect(first.locator(PLAYER_SYSTEM).last).to_have_attribute("data-event", "no_agent")
        for page in (alice, second_tab):
            expect(page.get_by_test_id("queue-badge")).to_have_text("1")  # the queue is there to see
            page.wait_for_timeout(500)  # time for a notification
            assert page.evaluate("window.__notes") == []
            assert page.title() == "Support dashboard"

        # Back online: the tab counts the queue again, and the next player is announced.
        alice.get_by_test_id("my-status").select_option("online")
        expect(alice).to_have_title("(1) Support dashboard")
        expect(second_tab).to_have_title("(1) Support dashboard")
        later = open_context(viewport=(420, 860))
        open_player(later, server.url)
        ask(later, "转人工")
        for page in (alice, second_tab):
            page.wait_for_function("() => window.__notes.length >= 1")
            assert [n["title"] for n in page.evaluate("window.__notes")] == ["A player is waiting for a human"]
            expect(page).to_have_title("(2) Support dashboard")
    finally:
        server.stop()


def expect_title_to_count_the_queue(page, waiting: str, none: str, at_least: int = 0) -> None:
    """The tab's title leads with the number the queue badge shows. The queue is the whole
    server's, and a chat another test on this server left can join it at any moment, so the
    title is checked against the badge of the moment rather than against a count read earlier."""
    page.wait_for_function(
        """([waiting, none, atLeast]) => {
            const n = Number(document.querySelector('[data-testid="queue-badge"]').textContent);
            return n >= atLeast && document.title === (n ? waiting.replace("{n}", n) : none);
        }""",
        arg=[waiting, none, at_least],
    )


def in_chinese(page, base_url: str) -> None:
    """The dashboard again, in Simplified Chinese (the language cookie the switcher sets)."""
    from playwright.sync_api import expect

    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base_url}])
    page.reload()
    expect(page.locator("#staff-app")).to_have_attribute("data-connection", "open")


def test_the_case_names_the_intent_and_facts_in_the_agents_language(open_context, staff_server):
    """They showed as codes (recharge_not_arrived, order_no), in the Chinese dashboard too."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    in_chinese(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, staff_server.url)
    ask(player, "充值没到账，订单号 SL2025061201")
    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()

    expect(agent.get_by_test_id("case-intent")).to_have_text("充值未到账")
    expect(agent.get_by_test_id("case-intent")).to_have_attribute("title", "recharge_not_arrived")
    facts = agent.get_by_test_id("case-facts")
    expect(facts.locator("dt")).to_have_text(["订单号"])
    expect(facts.locator("dd")).to_have_text(["SL2025061201"])
    expect(agent.get_by_test_id("case-sentiment")).to_have_text("平静 (0.00)")


def test_a_reply_leaves_the_box_only_once_the_server_has_it(open_context, staff_server):
    """Alice's 3060-character reply was lost: the box emptied as the frame went out, and the
    refusal came as an English code in the Chinese dashboard."""
    from playwright.sync_api import expect

    state = {"sent": [], "held": [], "hold_acks": False, "server_limit": None}

    def hold_acks(frame, ws, server):
        state["ws"] = ws
        if frame.get("type") == "ack" and state["hold_acks"]:
            state["held"].append(frame)
            return True
        return False

    def server_limit(frame):
        # A server with a lower limit than the page knows (a deploy in between): it refuses.
        if frame.get("type") == "send" and state["server_limit"]:
            frame = {**frame, "text": frame["text"] + "。" * state["server_limit"]}
        return frame

    agent = open_context()
    agent.route_web_socket("**/ws/staff/", lambda ws: relay(ws, state["sent"], hold_acks, server_limit))
    sign_in_as_agent(agent, staff_server.url)
    in_chinese(agent, staff_server.url)
    take_over_a_new_chat(agent, open_context(viewport=(420, 860)), staff_server.url)
    box, counter, error = (
        agent.get_by_test_id("agent-input"),
        agent.get_by_test_id("agent-counter"),
        agent.get_by_test_id("action-error"),
    )

    # Over the limit: the agent is told before anything is sent, and keeps the text.
    long_reply = "充值" * 1530
    box.fill(long_reply)
    expect(counter).to_have_text("3060 / 2000")
    box.press("Enter")
    expect(error).to_have_text("消息太长（3060/2000 字），请精简后再发送。")
    expect(box).to_have_value(long_reply)
    assert not [f for f in state["sent"] if f["type"] == "send"]
    box.fill("我来查一下您的订单。")
    expect(counter).to_be_hidden()
    expect(error).to_be_hidden()

    # Sent, but not acknowledged yet: still in the box; the ack empties it.
    state["hold_acks"] = True
    box.press("Enter")
    expect(agent.locator('#messages [data-sender="agent"]')).to_have_count(1)
    agent.wait_for_timeout(300)
    expect(box).to_have_value("我来查一下您的订单。")
    state["hold_acks"] = False
    state["ws"].send(json.dumps(state["held"].pop()))
    expect(box).to_have_value("")

    # Refused by the server: the words, in the agent's language, and the text stays.
    state["server_limit"] = 2001
    box.fill("马上为您处理")
    box.press("Enter")
    expect(error).to_have_text("消息太长（最多 2000 字），未发送。")
    expect(box).to_have_value("马上为您处理")
    expect(agent.locator('#messages [data-sender="agent"]')).to_have_count(1)


def test_a_reply_and_a_note_whose_acks_were_lost_with_the_socket_reach_the_chat_once(open_context, staff_server):
    """Alice's socket dropped while her reply waited for its ack; sent again, it had a new
    client id, and Lin read it twice."""
    from playwright.sync_api import expect

    state = {"sent": [], "hold_acks": False}

    def hold_acks(frame, ws, server):
        state["ws"] = ws
        return frame.get("type") == "ack" and state["hold_acks"]

    agent, player = open_context(), open_context(viewport=(420, 860))
    agent.route_web_socket("**/ws/staff/", lambda ws: relay(ws, state["sent"], hold_acks))
    sign_in_as_agent(agent, staff_server.url)
    take_over_a_new_chat(agent, player, staff_server.url)
    reply_box, note_box = agent.get_by_test_id("agent-input"), agent.get_by_test_id("note-input")
    agent_lines = agent.locator('#messages [data-sender="agent"]')

    state["hold_acks"] = True
    reply_box.fill("Checking your order now.")
    reply_box.press("Enter")
    note_box.fill("VIP, check the ledger")
    note_box.press("Enter")
    expect(agent_lines).to_have_count(2)  # both stored; their acks are lost with the socket
    state["hold_acks"] = False
    state["ws"].close()

    # The dashboard sends both again on its next socket, and the acks empty the boxes.
    expect(reply_box).to_have_value("")
    expect(note_box).to_have_value("")
    writes = [(f["type"], f["client_id"], f["text"]) for f in state["sent"] if f["type"] in ("send", "note")]
    assert (
        writes
        == [
            ("send", writes[0][1], "Checking your order now."),
            ("note", writes[1][1], "VIP, check the ledger"),
        ]
        * 2
    )
    expect(player.locator('[data-testid="message"][data-sender="agent"]')).to_have_count(1)
    agent.reload()  # what the server has, not what the page kept
    expect(agent_lines).to_have_count(2)
    expect(agent_lines.get_by_test_id("message-text")).to_have_text(
        ["Checking your order now.", "VIP, check the ledger"]
    )

    # A reload between the send and its ack: the draft kept the text, and sent again from it,
    # it went with a new client id and Lin read it twice. Now with the one it was sent with.
    state["hold_acks"] = True
    reply_box.fill("Found it.")
    reply_box.press("Enter")
    expect(agent_lines).to_have_count(3)
    state["hold_acks"] = False
    agent.reload()
    expect(reply_box).to_have_value("Found it.")  # the draft, as the agent left it
    expect(reply_box).to_be_editable()  # the chat is hers again on this socket
    reply_box.press("Enter")
    expect(reply_box).to_have_value("")
    again = [f["client_id"] for f in state["sent"] if f["type"] == "send" and f["text"] == "Found it."]
    assert len(again) == 2 and again[0] == again[1]
    expect(player.locator('[data-testid="message"][data-sender="agent"]')).to_have_count(2)
    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def test_what_an_agent_writes_shows_as_markdown_like_the_bots_answers_and_never_runs_html(open_context, staff_server):
    """Alice pasted a list with a link in it: Lin read the asterisks and brackets, where
    the bot's answers show bold, lists and links."""
    from playwright.sync_api import expect

    agent, player = open_context(), open_context(viewport=(420, 860))
    sign_in_as_agent(agent, staff_server.url)
    take_over_a_new_chat(agent, player, staff_server.url)
    reply = (
        "Two things to try:\n- **restart** the game\n- read [the help page](https://example.com/help)\n"
        '<script>window.__ran = "script"</script><img src="x" onerror="window.__ran = \'img\'">'
    )
    agent.get_by_test_id("agent-input").fill(reply)
    agent.get_by_test_id("agent-input").press("Enter")
    agent.get_by_test_id("note-input").fill("Refund ticket: [#42](https://example.com/t/42)")
    agent.get_by_test_id("note-input").press("Enter")

    to_player = player.locator('[data-testid="message"][data-sender="agent"]').get_by_test_id("message-text")
    in_dashboard = agent.locator('#messages [data-sender="agent"]').get_by_test_id("message-text")
    for page, shown in ((player, to_player.first), (agent, in_dashboard.first)):
        expect(shown.locator("li")).to_have_text(["restart the game", "read the help page"])
        expect(shown.locator("strong")).to_have_text("restart")
        link = shown.get_by_role("link", name="the help page")
        expect(link).to_have_attribute("href", "https://example.com/help")
        expect(link).to_have_attribute("target", "_blank")
        expect(shown.locator("script, [onerror]")).to_have_count(0)
        assert "<script>" not in shown.inner_text() and page.evaluate("window.__ran") is None
    note_link = in_dashboard.nth(1).get_by_role("link", name="#42")
    expect(note_link).to_have_attribute("href", "https://example.com/t/42")
    expect(to_player).to_have_count(1)  # the note is the staff's alone
    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def sign_in_as_manager(page, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/staff/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "manager-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#staff-app")).to_have_attribute("data-connection", "open")
    # Her status outlives her sockets: an earlier test may have left her away.
    page.get_by_test_id("my-status").select_option("online")


def test_the_mine_count_follows_take_over_transfer_hand_back_and_close(open_context, staff_server):
    """It said "Mine 1" over an empty list after a hand back, and nothing after a transfer."""
    from playwright.sync_api import expect

    alice = open_context()
    sign_in_as_agent(alice, staff_server.url)
    alice.get_by_test_id("filter-mine").click()
    expect(alice.get_by_test_id("conversation-list")).to_have_attribute("aria-busy", "false")
    held = alice.get_by_test_id("conversation-row")
    mine = alice.locator('[data-testid="filter-mine"] [data-count="mine"]')
    before = held.count()  # chats earlier tests left with Alice
    expect(mine).to_have_text(str(before or ""))

    # Mia takes a chat over and transfers it to Alice: Alice's count shows it.
    mia = open_context()
    sign_in_as_manager(mia, staff_server.url)
    transferred = take_over_a_new_chat(mia, open_context(viewport=(420, 860)), staff_server.url)
    to_alice = mia.locator('[data-testid="transfer-to"] option', has_text="Alice").get_attribute("value")
    mia.get_by_test_id("transfer-to").select_option(to_alice)
    mia.get_by_test_id("transfer").click()
    expect(mine).to_have_text(str(before + 1))

    # Alice takes another over, then hands it back, and closes the transferred one.
    take_over_a_new_chat(alice, open_context(viewport=(420, 860)), staff_server.url)
    expect(mine).to_have_text(str(before + 2))
    alice.get_by_test_id("hand-back").click()
    expect(mine).to_have_text(str(before + 1))
    alice.get_by_test_id("filter-mine").click()
    expect(held).to_have_count(before + 1)
    alice.locator(f'[data-testid="conversation-row"][data-id="{transferred}"]').click()
    close_chat(alice)
    expect(mine).to_have_text(str(before or ""))
    expect(held).to_have_count(before)


def test_a_chat_is_offered_for_transfer_only_to_colleagues_who_can_take_it(open_context, staff_server):
    """The dropdown defaulted to "root — offline": it listed every staff member."""
    from playwright.sync_api import expect

    alice = open_context()
    sign_in_as_agent(alice, staff_server.url)
    take_over_a_new_chat(alice, open_context(viewport=(420, 860)), staff_server.url)
    targets = alice.get_by_test_id("transfer-to")
    expect(targets.locator("option")).to_have_text(["No colleague online with room"])  # Mia is offline
    expect(alice.get_by_test_id("transfer")).to_be_disabled()
    # It read "No colleague online with ro": the box was narrower than its words.
    room = targets.evaluate(
        """box => { const pen = document.createElement('canvas').getContext('2d');
                    pen.font = getComputedStyle(box).font;
                    return box.clientWidth - pen.measureText(box.options[box.selectedIndex].text).width; }"""
    )
    assert room > 20, f"the transfer box is {room} px short of its words and its arrow"

    mia = open_context()
    sign_in_as_manager(mia, staff_server.url)
    expect(targets.locator("option")).to_have_text([re.compile(r"^Mia — \d+/\d+ chats$")])
    expect(alice.get_by_test_id("transfer")).to_be_enabled()

    mia.get_by_test_id("my-status").select_option("away")
    expect(targets.locator("option")).to_have_text(["No colleague online with room"])
    expect(alice.get_by_test_id("transfer")).to_be_disabled()


def test_a_refusal_goes_once_the_chat_changes_and_the_history_says_to_whom_it_went(open_context, staff_server):
    """ "Alice has this chat already." stayed up after Alice transferred the chat to the
    agent who read it, and the history said "transferred · Alice" without to whom."""
    from playwright.sync_api import expect

    frozen = {"on": False}

    def freeze(frame, ws, server):
        # Mia's screen still shows the chat with the bot when she clicks: she is too late.
        return frozen["on"] and frame.get("type") in ("state", "case", "conversation", "conversations", "message")

    alice = open_context()
    sign_in_as_agent(alice, staff_server.url)
    mia = open_context()
    mia.route_web_socket("**/ws/staff/", lambda ws: relay(ws, [], freeze))
    sign_in_as_manager(mia, staff_server.url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, staff_server.url)
    ask(player, QUESTION)
    mia.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    expect(mia.get_by_test_id("take-over")).to_be_visible()
    frozen["on"] = True
    alice.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    alice.get_by_test_id("take-over").click()
    expect(alice.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    mia.get_by_test_id("take-over").click()
    error = mia.get_by_test_id("action-error")
    expect(error).to_have_text("Alice has this chat already.")
    frozen["on"] = False

    to_mia = alice.locator('[data-testid="transfer-to"] option', has_text="Mia").get_attribute("value")
    alice.get_by_test_id("transfer-to").select_option(to_mia)
    alice.get_by_test_id("transfer").click()
    expect(mia.get_by_test_id("case-assignee")).to_have_text("Mia")
    expect(error).to_be_hidden()
    expect(mia.locator('#case-events [data-kind="transferred"]')).to_have_text(
        re.compile(r"transferred · Alice → Mia$")
    )


def test_the_reply_box_says_who_may_write_when_it_is_not_for_taking_over(open_context, staff_server):
    """It said "Take the chat over to write to the player" on a chat a colleague held and on
    a closed one, where there is no "Take over" button to click."""
    from playwright.sync_api import expect

    alice = open_context()
    sign_in_as_agent(alice, staff_server.url)
    cid = take_over_a_new_chat(alice, open_context(viewport=(420, 860)), staff_server.url)
    mia = open_context()
    sign_in_as_manager(mia, staff_server.url)
    mia.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    box = mia.get_by_test_id("agent-input")

    expect(mia.get_by_test_id("case-assignee")).to_have_text("Alice")
    expect(mia.get_by_test_id("take-over")).to_be_hidden()
    expect(box).to_be_disabled()
    expect(box).to_have_attribute("placeholder", "Alice is handling this chat: only they can write to the player.")
    expect(alice.get_by_test_id("agent-input")).to_have_attribute("placeholder", "Write to the player…")

    close_chat(alice)
    expect(mia.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")
    for page in (alice, mia):
        expect(page.get_by_test_id("agent-input")).to_have_attribute(
            "placeholder", "This chat is closed: nobody can write to the player in it."
        )


@pytest.mark.parametrize("width", [1024, 1280])
def test_on_a_laptop_the_chat_keeps_half_the_dashboard_beside_the_list_and_the_case(open_context, staff_server, width):
    """At 1024 px the list and the case took 620 px: the chat was a 400 px strip, where the
    answers wrapped every few words and the note box cut its own hint short."""
    from playwright.sync_api import expect

    agent = open_context(viewport=(width, 768))
    sign_in_as_agent(agent, staff_server.url)
    held = take_over_a_new_chat(agent, open_context(viewport=(420, 860)), staff_server.url)

    expect(agent.get_by_test_id("case")).to_be_visible()
    widths = agent.evaluate(
        """() => Object.fromEntries(['.list-pane', '#conv-pane', '#case-pane', '#note-input'].map(
             s => [s, document.querySelector(s).getBoundingClientRect().width]))"""
    )
    assert widths["#conv-pane"] >= width / 2, widths
    # The hint "Internal note (players never see it)…" fits on the box's one line.
    hint = agent.evaluate(
        """() => { const box = document.querySelector('#note-input');
                   const pen = document.createElement('canvas').getContext('2d');
                   pen.font = getComputedStyle(box).font; return pen.measureText(box.placeholder).width; }"""
    )
    assert hint < widths["#note-input"] - 20, (hint, widths)
    # The narrower list still shows each player's whole name, not "visitor-…".
    waiting = open_context(viewport=(420, 860))
    cid = open_player(waiting, staff_server.url)
    ask(waiting, "talk to a human")
    agent.get_by_test_id("filter-waiting").click()  # "Waiting for a human": the longest state beside a name
    expect(agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')).to_be_visible()
    cut = agent.evaluate(
        "() => Array.from(document.querySelectorAll('.row__player')).filter(n => n.scrollWidth > n.clientWidth).length"
    )
    assert cut == 0

    agent.get_by_test_id("filter-mine").click()
    agent.locator(f'[data-testid="conversation-row"][data-id="{held}"]').click()
    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def test_on_a_tablet_the_agent_opens_the_case_over_the_chat_and_reads_the_facts(open_context, staff_server):
    """Below 1000 px the case panel was hidden, and nothing brought it back: on a tablet the
    agent could not see the intent, the player's mood or the facts the bot had collected."""
    from playwright.sync_api import expect

    agent, _player, cid = an_agent_watching_a_new_chat(
        open_context, staff_server.url, "my top-up did not arrive, order SL2025061201"
    )
    agent.set_viewport_size({"width": 820, "height": 1180})
    expect(agent.get_by_test_id("conv-title")).to_contain_text(f"#{cid} ")
    case, toggle = agent.get_by_test_id("case"), agent.get_by_test_id("case-toggle")
    expect(case).to_be_hidden()  # the chat keeps the width beside the list

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(case).to_be_in_viewport(ratio=1)
    expect(agent.get_by_test_id("case-facts")).to_contain_text("SL2025061201")
    expect(agent.get_by_test_id("case-intent")).not_to_have_text("—")
    assert agent.evaluate("() => document.documentElement.scrollWidth") <= 820

    agent.keyboard.press("Escape")  # the focus went to its ×; Escape puts it away
    expect(case).to_be_hidden()
    expect(toggle).to_be_focused()
    close_chat(agent)  # room for the chats of the tests after this one


def test_a_player_who_comes_back_to_a_held_chat_still_sees_who_they_talk_to(open_context, staff_server):
    """After a reload the header said "Chatting with a support agent", though the chat was
    with Alice a moment before and her name was on her replies."""
    from playwright.sync_api import expect

    alice = open_context()
    sign_in_as_agent(alice, staff_server.url)
    player = open_context(viewport=(420, 860))
    take_over_a_new_chat(alice, player, staff_server.url)
    expect(player.get_by_test_id("conv-state")).to_have_text("Chatting with Alice")

    player.reload()
    expect(player.locator("#chat-app")).to_have_attribute("data-connection", "open")
    expect(player.get_by_test_id("conv-state")).to_have_text("Chatting with Alice")

    close_chat(alice)  # room for the chats of the tests after this one
    expect(alice.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def test_the_case_names_the_players_language_in_the_agents_language(open_context, staff_server):
    """It showed the code ("en", "zh-hans"), in the Chinese dashboard too."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))  # an English browser
    cid = open_player(player, staff_server.url)
    ask(player, "How do I appeal a ban?")
    row = agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')
    row.click()
    language = agent.locator("#case-language")
    expect(language).to_have_text("English")
    expect(language).to_have_attribute("title", "en")

    in_chinese(agent, staff_server.url)
    row.click()
    expect(language).to_have_text("英语")


# Records the text of every waiting time as it appears in the list (after the script that added it).
WATCH_WAITING_TIMES = """
window.__waitingShown = [];
new MutationObserver(records => records.forEach(r => r.addedNodes.forEach(node => {
  if (node.querySelectorAll) node.querySelectorAll('[data-testid="waiting-time"]').forEach(
    time => window.__waitingShown.push(time.textContent));
}))).observe(document, { childList: true, subtree: true });
"""


def test_a_waiting_chats_time_never_blinks_out_when_the_list_changes(open_context, staff_server):
    """Every change to the list (another chat's answer, a filter) redrew its rows with the
    waiting times blank until the next second's tick: the queue's key figure kept blinking."""
    from playwright.sync_api import expect

    agent = open_context(init_script=WATCH_WAITING_TIMES)
    sign_in_as_agent(agent, staff_server.url)
    waiting = open_context(viewport=(420, 860))
    cid = open_player(waiting, staff_server.url)
    ask(waiting, "talk to a human")
    row = agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')
    expect(row.get_by_test_id("waiting-time")).to_contain_text("waiting 0:")
    other = open_context(viewport=(420, 860))
    open_player(other, staff_server.url)
    ask(other, QUESTION)  # another chat's rows redraw the list
    for name in ("waiting", "open", "waiting", "open"):
        agent.get_by_test_id(f"filter-{name}").click()
        expect(row.get_by_test_id("waiting-time")).to_contain_text("waiting 0:")

    shown = agent.evaluate("window.__waitingShown")
    assert len(shown) > 4
    assert [text for text in shown if not text.startswith("waiting ")] == []


def test_an_empty_list_says_so_where_its_first_row_would_be(open_context, staff_server):
    """ "No conversations here." sat at the foot of the pane, a screen away from the filters
    and the search that emptied it."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    agent.get_by_test_id("search").fill("no player is called this")

    empty = agent.locator("#list-empty")
    expect(empty).to_be_visible()
    expect(agent.get_by_test_id("conversation-row")).to_have_count(0)
    gap = agent.evaluate(
        """() => document.getElementById('list-empty').getBoundingClientRect().top
                 - document.getElementById('search').getBoundingClientRect().bottom"""
    )
    assert 0 <= gap < 40, f"the empty list's words are {gap} px below the search box"


def test_after_an_action_the_keyboard_goes_on_where_the_next_step_is(open_context, staff_server):
    """Take over hid its own button and the focus fell to the page: what the agent typed next
    went nowhere, and after Hand back or Close a keyboard user started again from the top."""
    from playwright.sync_api import expect

    agent, player, _cid = an_agent_watching_a_new_chat(open_context, staff_server.url, QUESTION)

    agent.get_by_test_id("take-over").click()
    expect(agent.get_by_test_id("agent-input")).to_be_focused()
    agent.keyboard.type("Hi, I'm Alice.")
    agent.keyboard.press("Enter")
    expect(player.locator('[data-testid="message"][data-sender="agent"]')).to_have_count(1)

    agent.get_by_test_id("hand-back").click()
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "bot")
    expect(agent.get_by_test_id("conv-title")).to_be_focused()  # just before the chat's actions
    agent.keyboard.press("Tab")
    expect(agent.get_by_test_id("take-over")).to_be_focused()
    agent.keyboard.press("Enter")  # take it over again, from the keyboard
    expect(agent.get_by_test_id("agent-input")).to_be_focused()
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    expect(agent.get_by_test_id("agent-input")).to_have_value("")  # not the Enter's new line

    close_chat(agent)
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")
    expect(agent.get_by_test_id("conv-title")).to_be_focused()


def held_while(slow: dict):
    """A relay's `drop` that holds every frame to the page while `slow["on"]`, for release()."""

    def hold(frame, ws, server):
        if slow["on"]:
            slow["held"].append((ws, json.dumps(frame)))
        return slow["on"]

    return hold


def release(slow: dict) -> None:
    """The held frames reach the page, in order."""
    slow["on"] = False
    for ws, frame in slow["held"]:
        ws.send(frame)
    slow["held"].clear()


def a_new_chat_on_a_slow_dashboard(open_context, base_url: str, sign_in_staff):
    """A staff member signed in (`sign_in_staff`) has a new player's chat open, on a socket
    whose frames to the page are held while `slow["on"]` (release()). (page, player, id, slow)"""
    slow = {"on": False, "held": []}

    def route(ws):
        relay(ws, [], held_while(slow))

    return (*a_new_chat_on_a_routed_dashboard(open_context, base_url, sign_in_staff, route), slow)


def a_new_chat_on_a_routed_dashboard(open_context, base_url: str, sign_in_staff, route):
    """A staff member signed in (`sign_in_staff`) has a new player's chat open, their staff
    socket through `route` (a page.route_web_socket handler). (page, player, id)"""
    from playwright.sync_api import expect

    page = open_context()
    page.route_web_socket("**/ws/staff/", route)
    sign_in_staff(page, base_url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, base_url)
    ask(player, QUESTION)
    page.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    expect(page.get_by_test_id("take-over")).to_be_visible()
    return page, player, cid


def test_what_the_agent_types_at_once_after_take_over_reaches_the_player(open_context, staff_server):
    """The reply box unlocked only once the server said the chat was hers: an agent who typed
    as she clicked Take over lost her first characters ("'m Alice." for "Hi, I'm Alice.")."""
    from playwright.sync_api import expect

    agent, player, _cid, slow = a_new_chat_on_a_slow_dashboard(open_context, staff_server.url, sign_in_as_agent)

    slow["on"] = True  # a busy server: its answers come after she has typed
    agent.get_by_test_id("take-over").click()
    agent.keyboard.type("Hi, I'm Alice.")
    agent.keyboard.press("Enter")
    expect(agent.get_by_test_id("agent-input")).to_have_value("Hi, I'm Alice.")
    release(slow)

    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    lines = player.locator('[data-testid="message"]:is([data-sender="system"], [data-sender="agent"])')
    expect(lines.last).to_contain_text("Hi, I'm Alice.")
    expect(lines.nth(-2)).to_contain_text("Alice 已加入对话。")  # the language of the player's question
    expect(agent.get_by_test_id("agent-input")).to_have_value("")
    close_chat(agent)  # Alice's places are for the module's other tests


def test_a_reply_too_long_sent_as_the_take_over_settles_says_why_it_was_not_sent(open_context, staff_server):
    """Alice took over and pressed Enter on a long reply before the chat said it was hers:
    it was sent once it was, "too long" showed, and the take-over's `ok` right after hid it,
    leaving a reply in the box with no word of why it did not go."""
    from playwright.sync_api import expect

    held = {"on": False, "held": []}

    def hold_from_the_case(frame, ws, server):
        held["on"] = held["on"] or (held.get("armed") and frame.get("type") == "case")
        if held["on"]:
            held["held"].append((ws, json.dumps(frame)))
        return held["on"]

    agent, _player, _cid = a_new_chat_on_a_routed_dashboard(
        open_context, staff_server.url, sign_in_as_agent, lambda ws: relay(ws, [], hold_from_the_case)
    )
    held["armed"] = True  # the take-over's `state` reaches the page, its case and `ok` wait
    agent.get_by_test_id("take-over").click()
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    box = agent.get_by_test_id("agent-input")
    box.fill("a" * 2100)
    box.press("Enter")
    held["armed"] = False
    release(held)
    agent.wait_for_timeout(500)  # the `ok` after the case

    expect(agent.get_by_test_id("action-error")).to_have_text(
        "Your message is too long (2100 of 2000 characters). Please shorten it."
    )
    expect(box).to_have_value("a" * 2100)
    box.fill("")
    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def test_a_take_over_refused_keeps_what_the_agent_typed_in_a_locked_box(open_context, staff_server):
    """Alice was quicker: what Mia began typing as she clicked stays in her box, unsent."""
    from playwright.sync_api import expect

    mia, player, cid, slow = a_new_chat_on_a_slow_dashboard(open_context, staff_server.url, sign_in_as_manager)
    alice = open_context()
    sign_in_as_agent(alice, staff_server.url)
    slow["on"] = True  # Mia's screen still shows the chat with the bot when she clicks
    alice.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    alice.get_by_test_id("take-over").click()
    expect(alice.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")

    mia.get_by_test_id("take-over").click()
    mia.keyboard.type("Hello from Mia")
    mia.keyboard.press("Enter")
    release(slow)

    expect(mia.get_by_test_id("action-error")).to_have_text("Alice has this chat already.")
    expect(mia.get_by_test_id("case-assignee")).to_have_text("Alice")
    box = mia.get_by_test_id("agent-input")
    expect(box).to_be_disabled()
    expect(box).to_have_value("Hello from Mia")
    alice.get_by_test_id("agent-input").fill("Alice here.")
    alice.get_by_test_id("agent-input").press("Enter")
    expect(player.get_by_test_id("messages").get_by_text("Alice here.")).to_be_visible()
    expect(player.get_by_text("Hello from Mia")).to_have_count(0)
    close_chat(alice)


def test_a_take_over_lost_with_the_socket_leaves_the_box_locked_with_what_was_typed(open_context, staff_server):
    """The socket dropped with Alice's Take over on it: the box stayed open for a chat the
    bot still had, and her Enter waited for ever for a chat that would never be hers."""
    from playwright.sync_api import expect

    cut = {"done": False}

    def route(ws):
        if cut["done"]:  # the dashboard's next socket goes through
            relay(ws, [], lambda frame, ws, server: False)
            return
        server = ws.connect_to_server()

        def to_server(message):
            if json.loads(message).get("type") == "take_over":
                cut["done"] = True
                ws.close()  # lost on the way, with the socket
                return
            server.send(message)

        server.on_message(ws.send)
        ws.on_message(to_server)

    agent, _player, _cid = a_new_chat_on_a_routed_dashboard(open_context, staff_server.url, sign_in_as_agent, route)
    agent.get_by_test_id("take-over").click()
    agent.keyboard.type("Hi")
    agent.keyboard.press("Enter")

    expect(agent.locator("#staff-app")).to_have_attribute("data-connection", "reconnecting")
    expect(agent.locator("#staff-app")).to_have_attribute("data-connection", "open")
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "bot")
    box = agent.get_by_test_id("agent-input")
    expect(box).to_be_disabled()
    expect(box).to_have_value("Hi")
    expect(agent.get_by_test_id("take-over")).to_be_visible()


def test_a_filter_just_clicked_does_not_say_it_is_empty_before_its_list_arrives(open_context, staff_server):
    """Each click on a filter showed "No conversations here." until the server's list came:
    on a slow line, a flash of an empty queue before its chats."""
    from playwright.sync_api import expect

    held: list[tuple[object, dict]] = []
    holding = {"on": False}

    def hold_lists(frame, ws, server):
        if holding["on"] and frame.get("type") == "list":
            held.append((ws, frame))
            return True
        return False

    agent = open_context()
    agent.route_web_socket("**/ws/staff/", lambda ws: relay(ws, [], hold_lists))
    sign_in_as_agent(agent, staff_server.url)
    agent.get_by_test_id("search").fill("no player is called this")
    empty = agent.locator("#list-empty")
    expect(empty).to_be_visible()

    holding["on"] = True
    agent.get_by_test_id("filter-closed").click()
    expect(agent.get_by_test_id("conversation-list")).to_have_attribute("aria-busy", "true")
    agent.wait_for_timeout(300)
    expect(empty).to_be_hidden()

    holding["on"] = False
    for ws, frame in held:
        ws.send(json.dumps(frame))
    expect(empty).to_be_visible()  # the closed chats' list came, and none matches


def test_a_keyboard_user_on_a_row_keeps_their_place_while_other_chats_change(open_context, staff_server):
    """The list is rebuilt whenever any chat changes: the focused row went with it, the focus
    fell to the page, and Enter opened nothing."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    quiet, busy = open_context(viewport=(420, 860)), open_context(viewport=(420, 860))
    quiet_chat = open_player(quiet, staff_server.url)
    ask(quiet, "How do I get a refund?")
    open_player(busy, staff_server.url)
    ask(busy, QUESTION)
    row = agent.locator(f'[data-testid="conversation-row"][data-id="{quiet_chat}"]')
    expect(row).to_be_visible()

    row.focus()
    ask(busy, "还有一个问题")  # another chat changes: the list is built again
    expect(agent.locator('[data-testid="conversation-row"]').first.get_by_text("还有一个问题")).to_be_visible()
    expect(row).to_be_focused()
    agent.keyboard.press("Enter")
    expect(agent.get_by_test_id("conv-title")).to_contain_text(f"#{quiet_chat} ")


def test_taking_over_keeps_the_players_latest_message_in_view(open_context, staff_server):
    """Take over brings Hand back, Transfer and Close, which wrap the chat's header onto a
    second line (at 1024 px, two): the history lost that height at its foot, and the player's
    latest message, the one to answer, slid out of view."""
    from playwright.sync_api import expect

    agent = open_context(viewport=(1024, 768))
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, staff_server.url)
    player.get_by_test_id("handoff").click()  # waiting for a person: no answer to wait for
    story = "I bought the monthly card on Monday and got nothing in game, not even the daily gems. " * 12
    ask(player, story + "I want a refund. It was the monthly card")
    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    latest = agent.locator('#messages [data-sender="player"]').last
    expect(latest).to_contain_text("It was the monthly card")
    # A history taller than its pane, as a real chat's is: at its foot, with room to slide.
    assert agent.evaluate(
        "() => { const h = document.getElementById('history'); return h.scrollHeight > h.clientHeight; }"
    )

    agent.get_by_test_id("take-over").click()
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    expect(agent.get_by_test_id("hand-back")).to_be_visible()
    agent.wait_for_timeout(300)
    below = agent.evaluate(
        """() => { const last = document.querySelector('#messages').lastElementChild;
                   const history = document.getElementById('history');
                   return last.getBoundingClientRect().bottom - history.getBoundingClientRect().bottom; }"""
    )
    assert below <= 0, f"the chat's last message ends {below} px below the visible history"
    close_chat(agent)  # room for the chats of the tests after this one


def test_the_case_says_how_the_player_feels_in_words_beside_the_score(open_context, staff_server):
    """It said "-1.00": the agent had to know the scale, and where the bot calls a human. And a
    player who swore and then wrote "S3" read as "calm (0.00)", his anger gone from the case."""
    from playwright.sync_api import expect

    agent, player, _cid = an_agent_watching_a_new_chat(
        open_context, staff_server.url, "This is a scam, you stole my money!!!"
    )

    mood = agent.get_by_test_id("case-sentiment")
    expect(mood).to_have_text("angry (-1.00)")
    expect(mood).to_have_attribute("data-level", "angry")  # in red
    agent.get_by_test_id("take-over").click()  # at once, not after the bot's apology streamed
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "human")
    ask(player, "S3")
    expect(mood).to_have_text("calm (0.00) · angry earlier")
    expect(mood).to_have_attribute("data-level", "angry")  # still in red
    close_chat(agent)  # room for the chats of the tests after this one


def test_the_filters_are_one_tab_stop_and_the_arrow_keys_choose_among_them(open_context, staff_server):
    """Each filter was its own Tab stop and the arrows did nothing: five Tabs from the filters
    to the list, and no way to move along them the way tabs move."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    chosen = agent.get_by_test_id("filter-open")
    chosen.focus()

    agent.keyboard.press("ArrowRight")
    expect(agent.get_by_test_id("filter-closed")).to_be_focused()
    expect(agent.get_by_test_id("filter-closed")).to_have_attribute("aria-selected", "true")
    expect(chosen).to_have_attribute("aria-selected", "false")
    agent.keyboard.press("ArrowRight")  # past the last, round to the first
    expect(agent.get_by_test_id("filter-waiting")).to_be_focused()
    agent.keyboard.press("ArrowLeft")
    expect(agent.get_by_test_id("filter-closed")).to_be_focused()
    agent.keyboard.press("Home")
    expect(agent.get_by_test_id("filter-waiting")).to_be_focused()
    agent.keyboard.press("End")
    expect(agent.get_by_test_id("filter-closed")).to_be_focused()
    agent.keyboard.press("ArrowLeft")
    agent.keyboard.press("ArrowLeft")
    expect(agent.get_by_test_id("filter-mine")).to_have_attribute("aria-selected", "true")

    agent.keyboard.press("Tab")  # one Tab leaves the filters
    assert agent.evaluate("() => !document.activeElement.hasAttribute('data-filter')")
    agent.keyboard.press("Shift+Tab")  # and one comes back, to the chosen filter
    expect(agent.get_by_test_id("filter-mine")).to_be_focused()
    agent.get_by_test_id("filter-open").click()


def test_space_opens_a_row_as_enter_does(open_context, staff_server):
    """A list row opened with Enter but not Space, which a keyboard user tries on a button."""
    from playwright.sync_api import expect

    agent, _player, cid = an_agent_and_a_new_chat(open_context, staff_server.url, "How do I get a refund?")
    row = agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')
    expect(row).to_be_visible()

    row.focus()
    agent.keyboard.press(" ")
    expect(agent.get_by_test_id("conv-title")).to_contain_text(f"#{cid} ")


def test_the_chats_history_tells_the_agent_why_the_bot_failed(open_context, fake_ernie_thread, tmp_path):
    from playwright.sync_api import expect

    fake_ernie_thread.script("error_object", error_code=17)  # ERNIE's daily quota is used up
    server = servers.demo_daphne(tmp_path, **fake_ernie_env(fake_ernie_thread))
    try:
        agent, player, cid = an_agent_watching_a_new_chat(open_context, server.url, QUESTION)

        expect(player.locator(PLAYER_BOT).last).to_contain_text("抱歉，智能助手暂时无法使用")
        expect(agent.locator('#case-events [data-kind="escalated"]')).to_contain_text(
            "ERNIE error 17: Open api daily request limit reached"
        )
        expect(player.locator(PLAYER_BOT).last).not_to_contain_text("ERNIE")
    finally:
        server.stop()


def test_an_agent_watching_an_answer_held_by_the_models_rate_limit_reads_why_it_stalls(
    open_context, fake_ernie_thread, tmp_path
):
    """The player read "Lots of players are asking right now…" under the typing dots; Alice,
    watching the same chat, saw an empty answer stall for seconds with no reason."""
    from playwright.sync_api import expect

    fake_ernie_thread.configure(reply=["Top-ups usually arrive within five minutes."])
    fake_ernie_thread.script("error_object", error_code=18, times=4)  # ERNIE's QPS limit, for a few seconds
    server = servers.demo_daphne(tmp_path, LLM_RETRY_BACKOFF="0.3", **fake_ernie_env(fake_ernie_thread))
    try:
        agent = open_context()
        sign_in_as_agent(agent, server.url)
        player = open_context(viewport=(420, 860))
        cid = open_player(player, server.url)
        agent.goto(f"{server.url}/staff/c/{cid}/")  # watching before the answer starts: `busy` is live only
        expect(agent.get_by_test_id("conv-title")).to_contain_text(f"#{cid}")
        ask(player, "my top-up didn't arrive")

        answer = agent.locator('#messages [data-sender="bot"]').last
        expect(answer.locator(".msg__note")).to_have_text(
            "Waiting out the AI model's rate limit: the answer goes on when it frees up, else the chat "
            "comes to the queue. The player is told their answer is on its way."
        )
        row = agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')
        expect(row.get_by_test_id("row-model-busy")).to_have_text("AI model busy")

        expect(answer).to_contain_text("Top-ups usually arrive within five minutes.")
        expect(answer.locator(".msg__note")).not_to_contain_text("rate limit")
        expect(row.get_by_test_id("row-model-busy")).to_be_hidden()
    finally:
        server.stop()


# Counts the `typing` frames the player's page receives.
COUNT_TYPING_FRAMES = """
window.__typingFrames = 0;
const Real = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const ws = new Real(url, protocols);
  ws.addEventListener("message", e => { if (e.data.includes('"type":"typing"')) window.__typingFrames += 1; });
  return ws;
};
window.WebSocket.OPEN = Real.OPEN;
"""


def test_a_screen_reader_hears_once_that_the_agent_is_typing(open_context, staff_server):
    """The line "Alice is typing…" was a live region shown from `hidden`, which screen
    readers often do not read: a blind player heard nothing until her message came."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860), init_script=COUNT_TYPING_FRAMES)
    take_over_a_new_chat(agent, player, staff_server.url)

    try:
        box = agent.get_by_test_id("agent-input")
        expect(box).to_be_enabled()
        box.press_sequentially("Hi, I'm Alice.")
        expect(player.get_by_test_id("agent-typing")).to_have_text("Alice is typing…")
        box.press_sequentially(" Let me look at your order.", delay=150)  # past the 2 s between typing frames
        player.wait_for_function("() => window.__typingFrames >= 2")

        said = player.get_by_test_id("announcer").locator("p").all_inner_texts()
        assert said.count("Alice is typing…") == 1, said
        live = "el => !!el.closest('[aria-live]:not([aria-live=\"off\"]), [role=status], [role=alert]')"
        assert not player.get_by_test_id("agent-typing").evaluate(live)  # not read a second time
    finally:
        close_chat(agent)  # room for the chats of the tests after this one


def test_an_agent_who_opens_a_chat_in_the_middle_of_the_models_rate_limit_reads_why_it_stalls(
    open_context, fake_ernie_thread, tmp_path
):
    """The wait was said live only: Alice, signing in (or reloading) while Lin's answer waited
    out ERNIE's rate limit, saw an empty answer and a plain row, and could not tell a model
    that is coming from a chat that hung. Lin, reloading, lost the line under the dots too."""
    from playwright.sync_api import expect

    fake_ernie_thread.configure(reply=["Top-ups usually arrive within five minutes."])
    # The gateway's 429, every second until the limit is lifted below.
    fake_ernie_thread.script("http_500", status=429, bce_code="RateLimitExceeded", retry_after=1, times=1000)
    server = servers.demo_daphne(tmp_path, LLM_RETRY_BACKOFF="0.1", **fake_ernie_env(fake_ernie_thread))
    try:
        player = open_context(viewport=(420, 860))
        cid = open_player(player, server.url)
        ask(player, "my top-up didn't arrive")
        busy_line = player.get_by_test_id("typing-busy")
        expect(busy_line).to_be_visible()
        player.reload()
        expect(busy_line).to_be_visible()
        expect(busy_line).to_have_text("Lots of players are asking right now. Your answer is on its way.")

        agent = open_context()
        sign_in_as_agent(agent, server.url)
        row = agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')
        expect(row.get_by_test_id("row-model-busy")).to_have_text("AI model busy")  # before she opens it
        row.click()
        answer = agent.locator('#messages [data-sender="bot"]').last
        note = answer.locator(".msg__note")
        expect(note).to_have_text(
            "Waiting out the AI model's rate limit: the answer goes on when it frees up, else the chat "
            "comes to the queue. The player is told their answer is on its way."
        )
        agent.reload()
        expect(note).to_contain_text("Waiting out the AI model's rate limit")
        expect(row.get_by_test_id("row-model-busy")).to_have_text("AI model busy")

        fake_ernie_thread.clear_faults()
        expect(answer).to_contain_text("Top-ups usually arrive within five minutes.")
        expect(note).not_to_contain_text("rate limit")
        expect(row.get_by_test_id("row-model-busy")).to_be_hidden()
        expect(busy_line).to_be_hidden()
        agent.reload()  # what is stored says so too
        expect(answer).to_contain_text("Top-ups usually arrive within five minutes.")
        expect(note).not_to_contain_text("rate limit")
        expect(row.get_by_test_id("row-model-busy")).to_be_hidden()
    finally:
        server.stop()


def test_a_player_who_left_while_the_dashboard_was_reconnecting_shows_as_disconnected(open_context, staff_server):
    """Alice's socket dropped; Lin closed the game meanwhile. Back online, the case panel
    still said "connected", and Alice went on writing to nobody."""
    from playwright.sync_api import expect

    state = {"down": False, "socket": None}

    def staff_socket(ws):
        if state["down"]:
            ws.close()  # the dashboard tries again, with its back-off
            return
        state["socket"] = ws
        relay(ws, [], lambda frame, ws, server: False)

    agent = open_context()
    agent.route_web_socket("**/ws/staff/", staff_socket)
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    cid = open_player(player, staff_server.url)
    ask(player, "How do I get a refund?")
    agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]').click()
    connection = agent.get_by_test_id("case-connection")
    expect(connection).to_have_text("connected")

    state["down"] = True
    state["socket"].close()
    expect(agent.get_by_test_id("connection")).to_have_text("Reconnecting…")
    player.close()
    agent.wait_for_timeout(500)  # the player's socket is closed on the server
    state["down"] = False

    expect(agent.locator("#staff-app")).to_have_attribute("data-connection", "open", timeout=20_000)
    expect(connection).to_have_attribute("data-online", "0")
    expect(connection).to_contain_text("disconnected at")


def test_a_held_chat_whose_player_wrote_last_says_it_awaits_a_reply(open_context, staff_server):
    """Alice held a chat and read another; its player wrote, and its row looked like every
    other row: nothing said who was waiting for her, or since when."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    held_player, other_player = open_context(viewport=(420, 860)), open_context(viewport=(420, 860))
    held = take_over_a_new_chat(agent, held_player, staff_server.url)
    reply(agent, "Hi, I'm Alice. Let me look.")
    other = open_player(other_player, staff_server.url)
    ask(other_player, "How do I get a refund?")
    held_row = agent.locator(f'[data-testid="conversation-row"][data-id="{held}"]')
    other_row = agent.locator(f'[data-testid="conversation-row"][data-id="{other}"]')
    other_row.click()
    expect(held_row.get_by_test_id("awaiting-reply")).to_have_count(0)

    ask(held_player, "Are you still there?")  # while Alice reads the other chat
    expect(held_row.get_by_test_id("awaiting-reply")).to_have_text(re.compile(r"^awaiting reply 0:0\d$"))
    expect(other_row.get_by_test_id("awaiting-reply")).to_have_count(0)  # the bot answers that one

    held_row.click()
    agent.get_by_test_id("note-input").fill("Order is stuck at the payment provider")
    agent.get_by_test_id("note-input").press("Enter")
    expect(agent.locator('#messages [data-internal="1"]')).to_have_count(1)
    expect(held_row.get_by_test_id("awaiting-reply")).to_be_visible()  # a note answers nobody
    reply(agent, "Yes, still here: your order is on its way.")
    expect(held_row.get_by_test_id("awaiting-reply")).to_have_count(0)

    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def reply(agent, text: str) -> None:
    """Alice writes to the player of the chat she has open; it leaves the box once stored."""
    from playwright.sync_api import expect

    box = agent.get_by_test_id("agent-input")
    expect(box).to_be_enabled()
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


# A chat closed five days ago, as the server's own shell would leave it.
LAST_WEEKS_CHAT = """
from datetime import timedelta
from django.utils import timezone
from chat.models import Conversation, ConversationEvent, Message, Player
then = timezone.now() - timedelta(days=5)
chat = Conversation.objects.create(player=Player.objects.create(), state="closed", last_seq=2, closed_at=then)
Message.objects.create(conversation=chat, seq=1, sender="player", text="my pet phoenix vanished")
Message.objects.create(conversation=chat, seq=2, sender="bot", text="Pets come back after a relog.")
chat.messages.update(created_at=then)
ConversationEvent.objects.create(conversation=chat, kind="closed")
chat.events.update(created_at=then)
Conversation.objects.filter(pk=chat.pk).update(created_at=then, updated_at=then)
print(chat.pk)
"""


def test_an_old_chat_found_by_search_says_on_which_day_it_happened(open_context, staff_server):
    """Alice searched the closed chats for a player's words and read "10:35" on a chat
    from last week, in the list, on every message and in its history: as if it were today's."""
    from playwright.sync_api import expect

    old = servers.manage(staff_server.env, "shell", "-c", LAST_WEEKS_CHAT).stdout.split()[-1]
    agent, _player, today = an_agent_and_a_new_chat(open_context, staff_server.url, "How do I get a refund?")
    agent.get_by_test_id("filter-closed").click()
    agent.get_by_test_id("search").fill("phoenix")
    row = agent.locator(f'[data-testid="conversation-row"][data-id="{old}"]')
    on_another_day = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{1,2}:\d{2}\s[AP]M$")  # "Dec 2, 10:35 AM"
    expect(row.locator(".row__time")).to_have_text(on_another_day)

    row.click()
    labels = agent.locator("#messages .msg__label")
    expect(labels).to_have_count(2)
    for label in labels.all():
        assert on_another_day.match(label.inner_text().split(" · ")[-1]), label.inner_text()
    expect(agent.locator("#case-events .event__time")).to_have_text(on_another_day)

    agent.get_by_test_id("search").fill("")
    agent.get_by_test_id("filter-open").click()  # today's chat says only the time
    today_row = agent.locator(f'[data-testid="conversation-row"][data-id="{today}"]')
    expect(today_row.locator(".row__time")).to_have_text(re.compile(r"^\d{1,2}:\d{2}\s[AP]M$"))


def test_a_search_that_finds_nothing_in_this_list_says_where_it_found_chats(open_context, staff_server):
    """Alice looked up a player's order number under "All open" and read "No conversations
    here.": the chat about it had been closed an hour before, and she told the player so."""
    from playwright.sync_api import expect

    agent, _player, cid = an_agent_watching_a_new_chat(open_context, staff_server.url, "My order ZX-40417 is missing")
    expect(agent.get_by_test_id("close")).to_be_visible()
    close_chat(agent)
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")

    agent.get_by_test_id("filter-open").click()
    agent.get_by_test_id("search").fill("ZX-40417")
    expect(agent.get_by_test_id("list-empty")).to_have_text("No conversations here. 1 in Closed")
    agent.get_by_test_id("found-in-closed").click()

    expect(agent.get_by_test_id("filter-closed")).to_have_attribute("aria-selected", "true")
    expect(agent.get_by_test_id("conversation-row")).to_have_count(1)
    expect(agent.get_by_test_id("conversation-row")).to_have_attribute("data-id", cid)
    expect(agent.get_by_test_id("list-empty")).to_be_hidden()
    agent.get_by_test_id("search").fill("")


def test_the_list_is_one_tab_stop_and_the_arrow_keys_move_between_its_rows(open_context, staff_server):
    """Every row was a Tab stop: a keyboard user who opened the first of the queue's chats
    tabbed through every other row to reach Take over."""
    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    queued = []
    for _ in range(3):
        player = open_context(viewport=(420, 860))
        queued.append(open_player(player, staff_server.url))
        ask(player, "转人工")
    agent.get_by_test_id("filter-waiting").click()
    first, second, third = (agent.locator(f'[data-testid="conversation-row"][data-id="{q}"]') for q in queued)
    expect(third).to_be_visible()

    first.focus()
    agent.keyboard.press("ArrowDown")
    expect(second).to_be_focused()
    agent.keyboard.press("End")
    expect(agent.get_by_test_id("conversation-row").last).to_be_focused()
    agent.keyboard.press("Home")
    expect(agent.get_by_test_id("conversation-row").first).to_be_focused()
    third.focus()
    agent.keyboard.press("ArrowUp")
    expect(second).to_be_focused()
    agent.keyboard.press("Enter")
    expect(agent.get_by_test_id("conv-title")).to_contain_text(f"#{queued[1]} ")

    agent.keyboard.press("Tab")  # one Tab leaves the list, for the chat's first action
    expect(agent.get_by_test_id("take-over")).to_be_focused()
    agent.keyboard.press("Shift+Tab")  # and one comes back, to the chat it opened
    expect(second).to_be_focused()

    for row in (first, second, third):  # the queue as the tests after this one expect it
        row.click()
        close_chat(agent)
        expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


NEW_AGENT_BEA = """
from django.contrib.auth.models import Group, User
bea, _ = User.objects.get_or_create(username="bea", defaults={"first_name": "Bea"})
bea.set_password("bea-demo-2026")
bea.save()
bea.groups.add(Group.objects.get(name="agent"))
"""


def sign_in(page, base_url: str, username: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/staff/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#staff-app")).to_have_attribute("data-connection", "open")


def test_an_agent_is_told_when_a_colleague_hands_her_a_chat(open_context, staff_server):
    """Mia transferred a chat to Bea while Bea read another: only "Mine" went up by one,
    and the player waited on someone who did not know."""
    from playwright.sync_api import expect

    # Bea, new on the team: Alice may be holding as many chats as she may by now.
    servers.manage(staff_server.env, "shell", "-c", NEW_AGENT_BEA)
    bea = open_context(init_script=FAKE_NOTIFICATIONS)
    sign_in(bea, staff_server.url, "bea", "bea-demo-2026")
    own = take_over_a_new_chat(bea, open_context(viewport=(420, 860)), staff_server.url)
    mia = open_context()
    sign_in_as_manager(mia, staff_server.url)
    player = open_context(viewport=(420, 860))
    handed = take_over_a_new_chat(mia, player, staff_server.url)
    name = mia.get_by_test_id("case-player").inner_text()
    to_bea = mia.locator('[data-testid="transfer-to"] option', has_text="Bea").get_attribute("value")
    mia.get_by_test_id("transfer-to").select_option(to_bea)
    mia.get_by_test_id("transfer").click()

    bea.wait_for_function("() => window.__notes.some((n) => n.title.startsWith('A chat is now yours'))")
    mine = [n for n in bea.evaluate("window.__notes") if n["title"].startswith("A chat is now yours")]
    assert mine == [{"title": "A chat is now yours: its player is waiting for you", "body": name}]  # not her own

    for chat in (handed, own):
        bea.get_by_test_id("filter-mine").click()
        bea.locator(f'[data-testid="conversation-row"][data-id="{chat}"]').click()
        close_chat(bea)
        expect(bea.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def test_with_auto_assign_the_agent_given_a_chat_is_told_once(open_context, tmp_path):
    """A player asked for a person and AUTO_ASSIGN gave the chat to Alice: her dashboard
    announced a new chat in the queue, then at once that a chat was hers: two notifications
    for one chat, the first of them for a chat nobody could pick up."""
    from playwright.sync_api import expect

    server = servers.demo_daphne(tmp_path, AUTO_ASSIGN="true")
    try:
        alice = open_context(init_script=FAKE_NOTIFICATIONS)
        sign_in_as_agent(alice, server.url)
        player = open_context(viewport=(420, 860))
        open_player(player, server.url)
        ask(player, "转人工")
        expect(player.locator(PLAYER_SYSTEM).last).to_contain_text("Alice")

        alice.wait_for_function("() => window.__notes.length > 0")
        alice.wait_for_timeout(1000)  # time for a second one
        titles = [n["title"] for n in alice.evaluate("window.__notes")]
        assert titles == ["A chat is now yours: its player is waiting for you"]
        expect(alice.get_by_test_id("queue-badge")).to_be_hidden()
    finally:
        server.stop()


def test_an_agent_on_another_list_is_told_that_a_player_of_hers_wrote(open_context, staff_server):
    """Alice took Lin's chat over, then went to another list to pick up the next player: Lin
    wrote again, and nothing said so (her chats are not in that list, and "Mine 1" stayed
    "Mine 1"), nor did her desktop while she read Kai's chat. Lin waited on someone who did
    not know."""
    from playwright.sync_api import expect

    agent = open_context(init_script=FAKE_NOTIFICATIONS)
    sign_in_as_agent(agent, staff_server.url)
    lin = open_context(viewport=(420, 860))
    lins = take_over_a_new_chat(agent, lin, staff_server.url)
    kai = open_context(viewport=(420, 860))
    kais = open_player(kai, staff_server.url)
    ask(kai, "how do i change my character name")
    agent.get_by_test_id("filter-bot").click()
    agent.locator(f'[data-testid="conversation-row"][data-id="{kais}"]').click()  # the next player
    to_answer = agent.get_by_test_id("mine-awaiting")
    # Chats of the tests before this one may wait for Alice too: one more of them does now.
    before = int("0" + re.sub(r"\D", "", to_answer.inner_text()))

    ask(lin, "Are you still there?")
    expect(to_answer).to_have_text(f"· {before + 1} to answer")
    agent.wait_for_function("() => window.__notes.some(n => n.title.includes('helping'))")
    notes = [n["title"] for n in agent.evaluate("window.__notes") if "helping" in n["title"]]
    assert notes == ["A player you are helping wrote to you"]

    agent.get_by_test_id("filter-mine").click()
    agent.locator(f'[data-testid="conversation-row"][data-id="{lins}"]').click()
    reply(agent, "Yes, I'm checking your order.")
    expect(to_answer).to_have_text(f"· {before} to answer" if before else "")
    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


def test_a_reply_half_typed_to_one_player_stays_with_their_chat(open_context, staff_server):
    """Bea began a reply to Lin, opened Kai's chat to look something up and wrote there: the
    box still held Lin's words, and her Enter sent them to Kai (a note, into Kai's case)."""
    from playwright.sync_api import expect

    servers.manage(staff_server.env, "shell", "-c", NEW_AGENT_BEA)
    bea = open_context()
    sign_in(bea, staff_server.url, "bea", "bea-demo-2026")
    lin, kai = open_context(viewport=(420, 860)), open_context(viewport=(420, 860))
    lins = take_over_a_new_chat(bea, lin, staff_server.url)
    kais = take_over_a_new_chat(bea, kai, staff_server.url)
    reply, note = bea.get_by_test_id("agent-input"), bea.get_by_test_id("note-input")

    bea.locator(f'[data-testid="conversation-row"][data-id="{lins}"]').click()
    expect(bea.get_by_test_id("conv-title")).to_contain_text(f"#{lins} ")
    reply.fill("Your refund is on its way.")
    note.fill("Refund approved by finance.")
    bea.locator(f'[data-testid="conversation-row"][data-id="{kais}"]').click()
    expect(bea.get_by_test_id("conv-title")).to_contain_text(f"#{kais} ")
    expect(reply).to_have_value("")
    expect(note).to_have_value("")
    reply.fill("Hi Kai, one moment please.")
    reply.press("Enter")
    expect(reply).to_have_value("")

    bea.locator(f'[data-testid="conversation-row"][data-id="{lins}"]').click()
    expect(reply).to_have_value("Your refund is on its way.")
    expect(note).to_have_value("Refund approved by finance.")
    expect(reply).to_be_enabled()  # the chat has come: not before it says it is hers
    reply.press("Enter")
    note.press("Enter")
    expect(lin.get_by_test_id("messages").get_by_text("Your refund is on its way.")).to_be_visible()
    expect(bea.locator('#messages [data-internal="1"]')).to_contain_text("Refund approved by finance.")
    expect(kai.locator('[data-testid="message"][data-sender="agent"]')).to_have_text(
        [re.compile("Hi Kai, one moment please.")]
    )
    close_chat(bea)
    bea.locator(f'[data-testid="conversation-row"][data-id="{kais}"]').click()
    expect(bea.get_by_test_id("conv-title")).to_contain_text(f"#{kais} ")
    close_chat(bea)


def test_a_chat_just_opened_offers_no_action_before_the_server_says_what_it_is(open_context, staff_server):
    """On a slow line, Alice opened Kai's chat and, before it came, still saw Lin's title,
    case and buttons: her click on Close (meant for Lin, she thought) closed Kai's chat."""
    from playwright.sync_api import expect

    agent, _lin, _lins, slow = a_new_chat_on_a_slow_dashboard(open_context, staff_server.url, sign_in_as_agent)
    kai = open_context(viewport=(420, 860))
    kais = open_player(kai, staff_server.url)
    ask(kai, QUESTION)
    kai_row = agent.locator(f'[data-testid="conversation-row"][data-id="{kais}"]')
    expect(kai_row).to_be_visible()

    slow["on"] = True
    kai_row.click()
    expect(agent.get_by_test_id("conv-title")).to_have_text("")  # not Lin's
    for action in ("take-over", "close", "hand-back", "transfer"):
        expect(agent.get_by_test_id(action)).to_be_hidden()
    expect(agent.get_by_test_id("case-player")).not_to_be_visible()  # not Lin's
    release(slow)

    expect(agent.get_by_test_id("conv-title")).to_contain_text(f"#{kais} · visitor-")
    expect(agent.get_by_test_id("take-over")).to_be_visible()
    expect(agent.get_by_test_id("case-player")).to_be_visible()


def test_a_chat_with_no_handoff_yet_says_its_history_is_empty(open_context, staff_server):
    """Facts and Knowledge used said "none"; History, with nothing in it, was a blank that
    read as still loading."""
    from playwright.sync_api import expect

    agent, player, _cid = an_agent_watching_a_new_chat(open_context, staff_server.url, "How do I get a refund?")
    expect(agent.get_by_test_id("case-events")).to_have_text("none")
    ask(player, "I want to talk to a human")
    expect(agent.get_by_test_id("case-events")).to_contain_text("escalated to a human")
    expect(agent.get_by_test_id("case-events")).not_to_contain_text("none")
    close_chat(agent)  # the queue as the tests after this one expect it
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


# Its own scope ("key"): the server's detector may have raised the real handoff surge by now.
RAISE_ALERT = """
from analytics.models import Alert
alert = Alert.objects.create(kind="handoff_surge", key="S9", value=8, baseline=0, threshold=5,
    description="Handoff surge on S9: 8 chats asked for a human in the last 10 minutes, where usually none does.")
print(alert.pk)
"""
CLEAR_ALERTS = "from analytics.models import Alert; Alert.objects.filter(key='S9').update(state='cleared')"


def test_an_agent_hides_an_alert_she_has_read_and_a_new_one_still_shows(open_context, staff_server):
    """Two banners took a tenth of a 768 px screen from the chat for as long as the anomaly
    lasted, with no way to put them away."""
    from playwright.sync_api import expect

    raised = servers.manage(staff_server.env, "shell", "-c", RAISE_ALERT).stdout.split()[-1]
    try:
        agent = open_context(viewport=(1366, 768))
        sign_in_as_agent(agent, staff_server.url)
        banner = agent.locator(f'[data-testid="alert"][data-alert-id="{raised}"]')
        expect(banner).to_have_count(1)
        expect(banner).to_contain_text("Handoff surge on S9: 8 chats")
        banner.get_by_role("button", name="Hide this alert").click()
        expect(banner).to_have_count(0)

        agent.reload()  # hidden for the rest of the session, not until the next reconnect
        expect(agent.locator("#staff-app")).to_have_attribute("data-connection", "open")
        expect(banner).to_have_count(0)

        servers.manage(staff_server.env, "shell", "-c", CLEAR_ALERTS)  # over, then raised again: news
        again = servers.manage(staff_server.env, "shell", "-c", RAISE_ALERT).stdout.split()[-1]
        agent.reload()
        expect(agent.locator(f'[data-testid="alert"][data-alert-id="{again}"]')).to_have_count(1)
    finally:
        servers.manage(staff_server.env, "shell", "-c", CLEAR_ALERTS)  # no banner for the tests after


def test_a_dashboard_left_idle_past_the_timeout_sends_the_agent_to_sign_in(open_context, staff_server):
    """STAFF_SESSION_IDLE_MINUTES passed with nobody at the desk (the session's row expired,
    as chat/staff_sessions.py has it): the next thing done on the open dashboard is refused
    and the page goes to the sign-in page, which brings the agent back to the dashboard."""
    import sqlite3

    from playwright.sync_api import expect

    page = open_context()
    sign_in_as_agent(page, staff_server.url)
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    with sqlite3.connect(staff_server.env["SQLITE_PATH"]) as db:
        db.execute("UPDATE django_session SET expire_date = '2000-01-01 00:00:00' WHERE session_key = ?", [session_key])

    page.get_by_test_id("my-status").select_option("away")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/staff/$"))
    page.fill("#id_username", "agent")
    page.fill("#id_password", "agent-demo-2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#staff-app")).to_have_attribute("data-connection", "open")


def test_a_half_written_reply_survives_the_sign_in_that_the_idle_timeout_asks_for(open_context, staff_server):
    """Alice wrote a reply and stepped away past STAFF_SESSION_IDLE_MINUTES: the dashboard
    loaded itself again into the sign-in page, and after it the box was empty (any reload
    lost it). Each chat's reply and note come back until they are sent."""
    import sqlite3

    from playwright.sync_api import expect

    agent = open_context()
    sign_in_as_agent(agent, staff_server.url)
    player = open_context(viewport=(420, 860))
    cid = take_over_a_new_chat(agent, player, staff_server.url)
    reply, note = agent.get_by_test_id("agent-input"), agent.get_by_test_id("note-input")
    reply.fill("Your refund is on its way, it takes up to 3 days.")
    note.fill("Refund approved by finance.")

    session_key = next(c["value"] for c in agent.context.cookies() if c["name"] == "sessionid")
    with sqlite3.connect(staff_server.env["SQLITE_PATH"]) as db:
        db.execute("UPDATE django_session SET expire_date = '2000-01-01 00:00:00' WHERE session_key = ?", [session_key])
    agent.reload()  # as the dashboard does when its socket finds the sign-in gone (4403)
    expect(agent).to_have_url(re.compile(rf"/accounts/login/\?next=/staff/c/{cid}/$"))
    agent.fill("#id_username", "agent")
    agent.fill("#id_password", "agent-demo-2026")
    agent.get_by_role("button", name="Sign in").click()

    expect(agent.get_by_test_id("conv-title")).to_contain_text(f"#{cid} ")
    expect(reply).to_have_value("Your refund is on its way, it takes up to 3 days.")
    expect(note).to_have_value("Refund approved by finance.")
    expect(reply).to_be_enabled()
    reply.press("Enter")
    expect(player.locator('[data-testid="message"][data-sender="agent"]')).to_contain_text("Your refund is on its way")
    expect(reply).to_have_value("")

    agent.reload()  # sent: gone for good; the note, not sent, still there
    expect(agent.get_by_test_id("conv-title")).to_contain_text(f"#{cid} ")
    expect(note).to_have_value("Refund approved by finance.")
    expect(reply).to_have_value("")
    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")


# What an agent sees of the dashboard's chrome: each header control's box, and the
# page's width against the screen's.
PHONE_LAYOUT = """() => {
  const box = el => el.getBoundingClientRect();
  const controls = Array.from(document.querySelectorAll(
    '.site-header .head-btn, .site-header .head-link, .site-header select, .site-header .lang-switch'
  )).filter(el => el.offsetParent !== null);
  const overlaps = [];
  controls.forEach((a, i) => controls.slice(i + 1).forEach(b => {
    const r = box(a), s = box(b);
    if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1)
      overlaps.push(a.textContent.trim() + ' / ' + b.textContent.trim());
  }));
  return {
    pageWidth: document.documentElement.scrollWidth,
    tallest: Math.max(...controls.map(el => box(el).height)),
    overlaps: overlaps,
  };
}"""


def test_on_a_phone_an_agent_reads_the_list_then_one_whole_chat_and_goes_back(open_context, staff_server):
    """At 390 px the list, the chat and the header shared one row: the chat was a 110 px
    strip with one Chinese character a line, "Admin" and "Sign out" stood one letter a line
    under the language switcher, and the page scrolled sideways."""
    from playwright.sync_api import expect

    agent = open_context(viewport=(390, 844))
    sign_in_as_agent(agent, staff_server.url)
    for language in ("en", "zh-hans"):
        if language == "zh-hans":
            in_chinese(agent, staff_server.url)
        layout = agent.evaluate(PHONE_LAYOUT)
        assert layout["pageWidth"] <= 390, (language, layout)
        assert layout["tallest"] < 44, (language, layout)  # every label on one line
        assert layout["overlaps"] == [], (language, layout)

    player = open_context(viewport=(390, 844))
    cid = open_player(player, staff_server.url)
    ask(player, "my top-up did not arrive")
    row = agent.locator(f'[data-testid="conversation-row"][data-id="{cid}"]')
    assert row.bounding_box()["width"] >= 380
    expect(agent.get_by_test_id("conv-back")).to_be_hidden()  # nothing to go back to yet

    row.click()  # the chat takes the whole screen, the list steps aside
    question = agent.locator('#messages [data-sender="player"]')
    expect(question).to_contain_text("my top-up did not arrive")
    expect(row).to_be_hidden()
    assert agent.locator("#conv-pane").bounding_box()["width"] >= 380
    assert agent.evaluate("() => document.documentElement.scrollWidth") <= 390

    agent.get_by_test_id("take-over").click()
    agent.get_by_test_id("agent-input").fill("Let me look at your order.")
    agent.get_by_test_id("agent-send").click()
    expect(player.locator('[data-testid="message"][data-sender="agent"]')).to_contain_text("Let me look at your order.")

    agent.get_by_test_id("case-toggle").click()  # the case, over the whole chat
    expect(agent.get_by_test_id("case-intent")).to_be_in_viewport()
    assert agent.locator("#case-pane").bounding_box()["width"] >= 380
    assert agent.evaluate("() => document.documentElement.scrollWidth") <= 390
    agent.get_by_test_id("case-hide").click()
    expect(agent.get_by_test_id("case")).to_be_hidden()

    back = agent.get_by_test_id("conv-back")
    expect(back).to_have_text("← 会话列表")
    back.click()  # back to the list, the chat still held
    expect(row).to_be_visible()
    expect(row).to_be_focused()
    expect(agent.locator("#conv-pane")).to_be_hidden()
    row.click()
    close_chat(agent)  # room for the chats of the tests after this one
    expect(agent.get_by_test_id("conv-state")).to_have_attribute("data-state", "closed")
