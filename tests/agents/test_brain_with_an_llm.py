"""The brain in a real chat with an LLM provider: what the model is told, and what the player reads.

Through the player's socket (Channels' communicator) on the embedded default, with
LLM_PROVIDER=ernie (or openai) pointed at the fake server over a real socket. The cast: a
visitor who writes English, and one who writes Chinese.
"""

from __future__ import annotations

import pytest

from agents.fake_openai import FakeOpenAIServer
from agents.providers import reset_providers
from agents.providers.http import close_session
from chat.models import Player
from tests.agents.test_brain_in_the_chat import Chat, conversation_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def visitor(demo_kb):
    return Player.objects.create(language="en")


MODEL_SAYS = "Sorry to keep you asking. Let's get a colleague on it."


@pytest.mark.parametrize(
    ("question", "again", "told"),
    [
        ("my top-up didn't arrive", "I've asked THREE TIMES", "The player says they have asked before"),
        ("my top-up didn't arrive", "nothing. again.", "The player says they have asked before"),
        ("how do I appeal a ban", "how do I appeal a ban", "The player says they have asked before"),
        ("充值没到账", "我都问了三遍了", "玩家说已经问过了"),
        ("充值没到账", "充值没到账", "玩家说已经问过了"),
        ("怎么申诉封号", "怎么申诉封号", "玩家说已经问过了"),
    ],
)
async def test_a_player_who_repeats_themselves_reads_the_models_words_guided_to_own_it(
    visitor, ernie_settings, question, again, told
):
    async with Chat(visitor) as chat:
        first = await chat.say(question)
        ernie_settings.configure(reply=[MODEL_SAYS])
        answer = await chat.say(again)

    assert first.end["sources"]
    # The model's own words, not the offline bot's fixed lines.
    assert answer.text == MODEL_SAYS
    system = ernie_settings.requests[-1].body["system"]
    assert told in system
    assert "转人工客服" in system or "Talk to a human" in system  # the button it points to
    assert [o["intent"] for o in answer.quick_replies] == ["human"]
    assert (await answer.meta())["reply"] == "repeated"


@pytest.mark.parametrize("question", ["充值没到账怎么办", "my top-up didn't arrive"])
async def test_asking_again_after_an_answer_that_was_cut_off_gets_the_whole_answer(visitor, ernie_settings, question):
    ernie_settings.configure(reply=["Top-ups arrive within five minutes [1]. ", "If not, send us the order number."])
    ernie_settings.script("drop_mid_stream", after=1)
    async with Chat(visitor) as chat:
        cut = await chat.say(question)
        # Queued for a person after the failure, the player goes on with the bot and asks again, as told.
        await chat.sock.send({"type": "back_to_bot"})
        await chat.sock.receive_until(lambda f: f.get("type") == "state" and f["state"] == "bot")
        answer = await chat.say(question)

    assert cut.end["status"] == "failed"
    assert answer.text == "Top-ups arrive within five minutes [1]. If not, send us the order number."
    assert answer.end["sources"]
    assert "asked before" not in ernie_settings.requests[-1].body["system"]
    assert "问过了" not in ernie_settings.requests[-1].body["system"]
    assert (await answer.meta())["reply"] != "repeated"


@pytest.fixture
def lin(demo_kb):
    """A game player, signed in from the game: the bot may look up her orders."""
    return Player.objects.create(game_player_id="10086", display_name="Lin", language="zh-hans")


async def test_a_player_whose_orders_the_model_explains_one_after_the_other_stays_with_the_bot(
    lin, ernie_settings, game_backend
):
    ernie_settings.configure(reply=["您的订单已查到，请看上面的状态。"])
    async with Chat(lin) as chat:
        first = await chat.say("我的月卡没到账，订单号SL2025061202")
        second = await chat.say("还有订单SL2025061201也没到账")

    # Two answers from the player's own records are no "I don't know" streak: no queue.
    assert [first.text, second.text] == ["您的订单已查到，请看上面的状态。"] * 2
    assert not any(f.get("type") == "state" for f in first.frames + second.frames)
    assert (await conversation_of(lin)).state == "bot"
    looked_up = [(await answer.meta())["tool_calls"][0]["params"]["order_no"] for answer in (first, second)]
    assert looked_up == ["SL2025061202", "SL2025061201"]


async def test_the_model_explaining_a_players_order_is_told_to_answer_from_the_record_not_from_articles(
    lin, ernie_settings, game_backend
):
    async with Chat(lin) as chat:
        await chat.say("我的月卡没到账，订单号SL2025061202")

    system = ernie_settings.requests[-1].body["system"]
    # No article is sent with it: "answer only from the passages, else say you don't know" would
    # have the model tell the player it doesn't know, above their own order's record.
    assert "知识库资料" not in system
    assert system.startswith("你是游戏《星落传说》的官方客服助手。根据下面从游戏系统查到的玩家本人记录回答玩家的问题")
    assert '"order_no": "SL2025061202"' in system and '"status": "pending"' in system


@pytest.mark.parametrize(
    ("model_says", "listed"),
    [
        ("封号可以在官网提交申诉【1】。", [1]),
        ("买卖账号会被封号 [2]。", [2]),
        ("封号可以申诉[1][2]。", [1, 2]),
        ("封号可以申诉。", [1, 2]),  # cites nothing: it may still have used both
    ],
)
async def test_an_answer_lists_the_sources_the_model_cited(visitor, ernie_settings, model_says, listed):
    ernie_settings.configure(reply=[model_says])
    async with Chat(visitor) as chat:
        answer = await chat.say("我的账号为什么被封了")

    assert answer.text == model_says
    assert [source["n"] for source in answer.end["sources"]] == listed
    assert [source["n"] for source in (await answer.meta())["sources"]] == listed  # staff and analytics too


class Model:
    """An LLM behind a fake upstream on a real socket: what it says, and what it was last told."""

    def __init__(self, says, system) -> None:
        self.says, self.system = says, system


@pytest.fixture(params=["ernie", "openai"])
async def model(request, settings):
    if request.param == "ernie":
        ernie = request.getfixturevalue("ernie_settings")
        yield Model(lambda text: ernie.configure(reply=[text]), lambda: ernie.requests[-1].body["system"])
        return
    server = await FakeOpenAIServer().start()
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = server.base_url, server.api_key
    reset_providers()

    def says(text: str) -> None:
        server.reply = [text]

    yield Model(says, lambda: server.requests[-1]["body"]["messages"][0]["content"])
    await close_session()
    await server.stop()
    reset_providers()


@pytest.mark.parametrize(
    ("problem", "item", "told"),
    [
        ("我的装备不见了", "霜牙之剑", "我这边还差服务器"),
        ("my stuff is gone", "Frostfang Sword", "To go on I need your server"),
    ],
)
async def test_a_player_who_gave_some_of_the_details_gets_the_form_for_the_rest_under_the_models_words(
    visitor, model, problem, item, told
):
    async with Chat(visitor) as chat:
        asked = await chat.say(problem)
        model.says("Noted. Which server do you play on?")
        answer = await chat.say(item)

    assert [f["name"] for f in asked.form["fields"]] == ["item_name", "server"]
    # The model words it, as for any answer; the form for what is still missing is under it,
    # as under the offline bot's "Thanks, I've noted it", so the server is one tap away.
    assert answer.text == "Noted. Which server do you play on?"
    assert [f["name"] for f in answer.form["fields"]] == ["server"]
    assert [o["intent"] for o in answer.quick_replies] == ["human"]
    assert told in model.system()
    meta = await answer.meta()
    assert (meta["reply"], meta["asked"]) == ("noted", ["server"])
    assert not meta.get("knowledge_gap")
