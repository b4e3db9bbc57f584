"""The brain in a real chat: guidance, facts across turns, tools, player scope, soothing, gaps.

Through the player's socket (Channels' communicator) on the embedded default,
with the offline provider and the demo game backend on a real port. The cast:
Lin (game player 10086, signed in with a token), Kai (20002, banned), and a
visitor who is not signed in.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async

from agents.demo_brain import ORDER_NO
from chat.models import Conversation, ConversationEvent, Message, Player
from chat.streaming import jobs
from tests.chat.socket_client import PlayerSocket, answer_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lin(demo_kb, game_backend):
    return Player.objects.create(game_player_id="10086", display_name="Lin", language="zh-hans")


@pytest.fixture
def kai(demo_kb, game_backend):
    return Player.objects.create(game_player_id="20002", display_name="Kai", language="en")


@pytest.fixture
def visitor(demo_kb, game_backend):
    return Player.objects.create(language="en")


class Chat:
    def __init__(self, player: Player) -> None:
        self.sock = PlayerSocket(player.pk)

    async def __aenter__(self) -> Chat:
        await self.sock.connect()
        await self.sock.send({"type": "resume", "after_seq": 0, "streams": {}})
        await self.sock.receive_until(lambda f: f.get("type") == "resumed")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.sock.close()

    async def exchange(self, frame: dict) -> Answer:
        await self.sock.send(frame)
        frames = await self.sock.receive_until(lambda f: f.get("type") == "end", timeout=15)
        # Quick replies, a form, a handoff follow the end, all from the answer's job: once it is
        # over they are on their way, and a short silence says they have come. (A fixed 0.4 s of
        # silence after each answer was two thirds of this file's time.)
        running = [task for task in jobs.registry().tasks.values() if not task.done()]
        if running:
            await asyncio.wait(running, timeout=15)
        while not await self.sock.comm.receive_nothing(timeout=0.1):
            frames.append(await self.sock.receive())
        return Answer(frames)

    async def say(self, text: str, **extra) -> Answer:
        import uuid

        return await self.exchange({"type": "send", "client_id": str(uuid.uuid4()), "text": text, **extra})


class Answer:
    def __init__(self, frames: list[dict]) -> None:
        self.frames = frames
        self.bot = next(f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
        self.id = self.bot["id"]
        self.text = answer_text(frames, self.id)
        self.end = next(f for f in frames if f.get("type") == "end")

    def frame(self, kind: str) -> dict | None:
        return next((f for f in self.frames if f.get("type") == kind and f.get("id") == self.id), None)

    @property
    def quick_replies(self) -> list[dict]:
        frame = self.frame("quick_replies")
        return frame["options"] if frame else []

    @property
    def form(self) -> dict | None:
        return self.frame("form")

    async def meta(self) -> dict:
        return (await sync_to_async(Message.objects.get)(pk=self.id)).meta


async def conversation_of(player: Player) -> Conversation:
    return await sync_to_async(Conversation.objects.filter(player=player).latest)("created_at")


async def test_a_vague_question_gets_quick_replies_for_the_likely_intents(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("hello")

    assert "Which of these is it about?" in answer.text
    labels = [option["label"] for option in answer.quick_replies]
    assert "Top-up not received" in labels and labels[-1] == "Talk to a human"
    assert all(option.get("intent") for option in answer.quick_replies)
    meta = await answer.meta()
    assert meta["reply"] == "guidance" and meta["intent"]["name"] == ""
    assert meta["quick_replies"] == answer.quick_replies  # a reload shows them again


async def test_small_talk_gets_the_topics_to_choose_from_not_an_article(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("hey whats up")

    assert "Which of these is it about?" in answer.text and answer.quick_replies
    assert "help center" not in answer.text


@pytest.mark.parametrize(
    ("question", "steps"),
    [
        ("我号被盗了，怎么办？", "**账号被盗怎么办**\n1. 立即修改密码。"),
        ("账号被人盗了登不上", "**账号被盗怎么办**\n1. 立即修改密码。"),
        ("my account got hacked", "**If your account was hacked**\n1. Reset your password right away."),
        # Not handed to a human on the spot for the word "stole", as if the player were furious.
        ("someone stole my account", "**If your account was hacked**\n1. Reset your password right away."),
    ],
)
async def test_a_player_whose_account_was_stolen_reads_what_to_do_first(visitor, question, steps):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    quoted = re.split(r"[:：]\n\n", answer.text, maxsplit=1)[1]  # after "Here's what our help center says…:"
    assert quoted.startswith(steps)
    meta = await answer.meta()
    assert meta["intent"]["name"] == "account_hacked" and meta["reply"] != "handoff"


async def test_someone_posing_as_support_is_warned_of_not_handed_to_the_queue(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("有人冒充客服找我要验证码")

    assert "**钓鱼和诈骗**\n- 官方工作人员 **绝不会** 索要你的密码或验证码。" in answer.text
    assert (await answer.meta())["reply"] == "answer"
    assert (await conversation_of(visitor)).state == Conversation.State.BOT


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("how do I report a cheater", "Tap the player's name, choose Report"),
        ("我要举报一个开挂的", "点击该玩家的名字，选择举报"),
    ],
)
async def test_reporting_a_cheater_is_answered_without_asking_for_the_reporters_device(visitor, question, says):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert says in answer.text
    assert answer.form is None and "Device" not in answer.text and "设备" not in answer.text
    assert (await answer.meta())["intent"]["name"] == "report_player"


@pytest.mark.parametrize(
    ("question", "reply", "asks", "server"),
    [
        ("我号被盗了，怎么办？", "二服", "玩家ID、服务器", "S2"),
        ("someone changed my password and the email, i can't get in", "S3", "Player ID, Server", "S3"),
    ],
)
async def test_a_hacked_account_collects_what_staff_restore_it_with_and_offers_a_person(
    visitor, question, reply, asks, server
):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)
        details = await chat.say(reply)

    # The steps first, then what staff need to restore a changed e-mail or stolen items.
    assert asks in answer.text
    assert [field["name"] for field in answer.form["fields"]] == ["player_id", "server"]
    # The server noted, the player ID still needed, and a person a tap away.
    assert server in details.text and ("还差玩家ID" in details.text or "need your player ID" in details.text)
    assert [field["name"] for field in details.form["fields"]] == ["player_id"]
    assert [option["intent"] for option in details.quick_replies] == ["human"]
    conversation = await conversation_of(visitor)
    assert (conversation.intent, conversation.facts["server"]) == ("account_hacked", server)


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("庆典活动奖励没收到", "**活动奖励没收到**\n活动奖励会在 **24 小时内通过邮件** 发放"),
        ("I didn't get the anniversary event reward", "**Reward not received?**\nEvent rewards are sent by"),
    ],
)
async def test_a_missing_event_reward_is_answered_from_reward_not_received(visitor, question, section):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert re.split(r"[:：]\n\n", answer.text, maxsplit=1)[1].startswith(section)


@pytest.mark.parametrize(
    ("question", "closing", "reply", "kind"),
    [
        (
            "how do I rename my character",
            "ok thanks!",
            "You're welcome! If anything else comes up, just ask here.",
            "thanks",
        ),
        ("怎么改名字", "好的，谢谢", "不客气！还有其他问题的话，随时在这里问我。", "thanks"),
        # An "ok" after an answer: the player read it, and asks nothing.
        ("how do I rename my character", "ok", "Great! If anything else comes up, just ask here.", "acknowledged"),
        ("what events are on now", "lol ok", "Great! If anything else comes up, just ask here.", "acknowledged"),
        ("怎么改名字", "好的", "好的！还有其他问题的话，随时在这里问我。", "acknowledged"),
        ("现在有什么活动", "嗯嗯，知道了", "好的！还有其他问题的话，随时在这里问我。", "acknowledged"),
    ],
)
async def test_a_thank_you_or_an_ok_is_answered_as_one_not_with_a_menu_of_topics(
    visitor, question, closing, reply, kind
):
    async with Chat(visitor) as chat:
        await chat.say(question)
        answer = await chat.say(closing)

    assert answer.text == reply
    assert answer.quick_replies == [] and answer.form is None
    meta = await answer.meta()
    assert meta["reply"] == kind and not meta.get("dont_know")


async def test_an_ok_that_opens_the_chat_is_met_with_the_topics_to_choose_from(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("ok")

    assert "Which of these is it about?" in answer.text and answer.quick_replies


@pytest.mark.parametrize(
    ("question", "ok", "still_waiting"),
    [
        ("my top-up did not arrive", "ok", "Sure — send me the order number when you have it."),
        ("充值了月卡但是没到账", "好的", "好的，方便的时候把订单号发给我就行。"),
        ("the game keeps crashing on my iphone", "sure", "Sure — send me the server when you have it."),
    ],
)
async def test_an_ok_to_a_request_for_details_is_not_taken_for_the_end_of_the_topic(lin, question, ok, still_waiting):
    async with Chat(lin) as chat:
        asked = await chat.say(question)
        answer = await chat.say(ok)

    assert answer.text == still_waiting
    assert "If anything else comes up" not in answer.text
    # The form is shown again under the newest answer, where the player can still fill it in.
    assert answer.form["fields"] == asked.form["fields"]


@pytest.mark.parametrize(
    ("question", "person", "other_topic", "ok", "acknowledged"),
    [
        (
            "my top-up did not arrive",
            "talk to a human",
            "how do I rename my character",
            "ok",
            "Great! If anything else comes up, just ask here.",
        ),
        ("充值了月卡但是没到账", "转人工", "怎么改名字", "好的", "好的！还有其他问题的话，随时在这里问我。"),
    ],
)
async def test_an_ok_after_the_player_moved_on_from_a_request_for_details_does_not_repeat_it(
    lin, question, person, other_topic, ok, acknowledged
):
    async with Chat(lin) as chat:
        await chat.say(question)  # the bot asks for the order number
        await chat.sock.send({"type": "send", "client_id": "a-person", "text": person})
        await chat.sock.receive_until(lambda f: f.get("type") == "state" and f["state"] == "waiting")
        # Nobody answers yet: the player writes about something else, then goes on with the bot.
        await chat.sock.send({"type": "send", "client_id": "meanwhile", "text": other_topic})
        await chat.sock.receive_until(lambda f: f.get("type") == "ack" and f["client_id"] == "meanwhile")
        await chat.sock.send({"type": "back_to_bot"})
        await chat.sock.receive_until(lambda f: f.get("type") == "state" and f["state"] == "bot")
        answer = await chat.say(ok)

    assert answer.text == acknowledged
    assert answer.form is None


async def test_the_form_shown_again_after_an_ok_brings_the_order_status(lin):
    async with Chat(lin) as chat:
        await chat.say("充值了月卡但是没到账")
        waiting = await chat.say("好的")
        submitted = {"type": "form_submit", "form_id": waiting.form["form_id"], "values": {"order_no": "sl2025061202"}}
        answer = await chat.exchange(submitted)

    assert "SL2025061202" in answer.text and "月卡" in answer.text and "处理中" in answer.text


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("are you a bot?", "I'm the game's automated support assistant, not a person."),
        ("are you a real person?", "I'm the game's automated support assistant, not a person."),
        ("is this an AI", "I'm the game's automated support assistant, not a person."),
        ("你是机器人吗", "我是游戏的自动客服助手，不是真人。"),
        ("你是真人吗", "我是游戏的自动客服助手，不是真人。"),
        ("who am I talking to?", "I'm the game's automated support assistant, not a person."),
        ("你是谁", "我是游戏的自动客服助手，不是真人。"),
        ("你们客服是机器人吗", "我是游戏的自动客服助手，不是真人。"),
        ("is your support a bot?", "I'm the game's automated support assistant, not a person."),
    ],
)
async def test_asked_whether_it_is_a_bot_the_bot_says_so_and_how_to_reach_a_person(visitor, question, says):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert answer.text.startswith(says)
    assert "Talk to a human" in answer.text or "转人工客服" in answer.text
    assert "ban" not in answer.text.lower() and "封号" not in answer.text
    assert [option["intent"] for option in answer.quick_replies] == ["human"]
    # A question, not a request: the chat stays with the bot until the player asks for a person.
    conversation = await conversation_of(visitor)
    assert conversation.state == Conversation.State.BOT
    assert not (await answer.meta()).get("escalate")


async def test_a_quick_reply_click_starts_that_intent_and_the_bot_asks_for_what_it_needs(lin):
    async with Chat(lin) as chat:
        await chat.say("你好")
        answer = await chat.say("充值未到账", intent="recharge_not_arrived")

    assert answer.end["sources"], "the help-center answer comes first"
    assert "订单号" in answer.text
    assert answer.form["fields"] == [
        {
            "name": "order_no",
            "label": "订单号",
            "required": True,
            "type": "text",
            "pattern": ORDER_NO,
            "placeholder": "GPA.1234-5678-9012-34567",
        }
    ]
    player_message = await sync_to_async(Message.objects.filter(sender="player").latest)("seq")
    assert player_message.meta["intent"] == "recharge_not_arrived"


async def test_the_order_status_comes_back_after_the_player_fills_in_the_form(lin, game_backend):
    async with Chat(lin) as chat:
        asked = await chat.say("充值了月卡但是没到账")
        form_id = asked.form["form_id"]
        submitted = {"type": "form_submit", "form_id": form_id, "values": {"order_no": "sl2025061202"}}
        answer = await chat.exchange(submitted)

    assert "SL2025061202" in answer.text and "月卡" in answer.text and "处理中" in answer.text
    # The sending socket gets only the `ack` for its own line; the stored line has the checked value.
    player_line = await sync_to_async(Message.objects.filter(sender="player").latest)("seq")
    assert player_line.text == "订单号: SL2025061202"
    conversation = await conversation_of(lin)
    assert conversation.facts == {"player_id": "10086", "order_no": "SL2025061202"}
    assert conversation.intent == "recharge_not_arrived"
    meta = await answer.meta()
    assert meta["tool_calls"][0]["tool"] == "order_status" and meta["tool_calls"][0]["ok"]
    assert meta["tool_calls"][0]["params"] == {"player_id": "10086", "order_no": "SL2025061202"}
    assert set(meta["timings_ms"]) >= {"context", "intent", "sentiment", "facts", "retrieval", "prompt", "stream"}
    assert [r["query"].get("player_id") for r in game_backend.requests] == ["10086"]


async def test_a_wrong_value_in_the_form_is_refused_with_the_field_to_fix(lin):
    async with Chat(lin) as chat:
        asked = await chat.say("充值没到账")
        await chat.sock.send({"type": "form_submit", "form_id": asked.form["form_id"], "values": {"order_no": "12345"}})
        error = await chat.sock.receive()

    assert error["type"] == "error" and error["code"] == "invalid_form"
    assert error["fields"] == ["order_no"] and "订单号" in error["message"]


async def test_facts_written_across_turns_are_kept_and_never_asked_for_twice(lin):
    async with Chat(lin) as chat:
        first = await chat.say("我的装备不见了")
        second = await chat.say("我在三服")
        third = await chat.say("Frostfang Sword")

    assert {f["name"] for f in first.form["fields"]} == {"server", "item_name"}
    # The server noted, the item still needed: said, with the form for it alone.
    assert second.text.startswith("好的，已记下：服务器：S3。我这边还差物品名称"), second.text
    assert [f["name"] for f in second.form["fields"]] == ["item_name"] and third.form is None
    # Named in English, shown by the game's Chinese name to a player who asks in Chinese.
    assert "**霜牙之剑**：物品恢复（工单 4411）" in third.text and "未领取" in third.text
    assert "Frostfang" not in third.text and "item restore" not in third.text
    conversation = await conversation_of(lin)
    assert conversation.facts["server"] == "S3" and conversation.facts["item_name"] == "Frostfang Sword"
    asked = [(await a.meta()).get("asked", []) for a in (first, second, third)]
    assert asked == [["item_name", "server"], ["item_name"], []]


@pytest.mark.parametrize(
    ("problem", "detail", "noted"),
    [
        ("the game keeps crashing on my iphone", "S2", "Thanks, I've noted it: Device: iOS, Server: S2."),
        ("游戏一直闪退，我用的安卓", "三服", "好的，已记下：设备：Android，服务器：S3。"),
    ],
)
async def test_details_given_for_a_bug_are_noted_not_answered_with_the_article_again(visitor, problem, detail, noted):
    async with Chat(visitor) as chat:
        asked = await chat.say(problem)
        answer = await chat.say(detail)

    assert [f["name"] for f in asked.form["fields"]] == ["server"]
    assert answer.text.startswith(noted)
    assert "help center" not in answer.text and "帮助中心" not in answer.text
    assert [o.get("intent") for o in answer.quick_replies] == ["human"]


@pytest.mark.parametrize(
    ("problem", "detail", "told", "then", "noted"),
    [
        (
            "the game keeps crashing on my iphone",
            "s7",
            'There is no server "s7". Which server do you play on (S1 Dawn, S2 Tide, S3 Ember or S4 Frost)?',
            "S2",
            "Thanks, I've noted it: Device: iOS, Server: S2.",
        ),
        (
            "the game keeps crashing on my iphone",
            "I'm on server S12",
            'There is no server "S12".',
            "s2",
            "Thanks, I've noted it: Device: iOS, Server: S2.",
        ),
        (
            "游戏一直闪退，我用的安卓",
            "7服",
            "没有“7服”这个服务器。你在哪个服务器（S1 晨曦、S2 潮汐、S3 余烬、S4 霜语）？",
            "三服",
            "好的，已记下：设备：Android，服务器：S3。",
        ),
        (
            "游戏一直闪退，我用的安卓",
            "我在十二服",
            "没有“十二服”这个服务器。",
            "S3",
            "好的，已记下：设备：Android，服务器：S3。",
        ),
        (
            "the game keeps crashing on my iphone",
            "I play on server 7",
            "There is no server 7.",
            "server 2",
            "Thanks, I've noted it: Device: iOS, Server: S2.",
        ),
        # A phone model is no server: the player took the question for the device's.
        (
            "the game keeps crashing",
            "samsung galaxy s10",
            '"samsung galaxy s10" is a phone, not a server. Which server do you play on',
            "server 2",
            "Thanks, I've noted it: Device: Android, Server: S2.",
        ),
        (
            "游戏一直闪退",
            "我用的三星S10",
            "“三星S10”是手机型号，不是服务器。你在哪个服务器",
            "二服",
            "好的，已记下：设备：Android，服务器：S2。",
        ),
    ],
)
async def test_a_server_that_is_none_of_the_games_is_told_so_and_asked_for_again(
    visitor, problem, detail, told, then, noted
):
    async with Chat(visitor) as chat:
        await chat.say(problem)
        answer = await chat.say(detail)
        after = await chat.say(then)

    assert answer.text.startswith(told), answer.text
    assert "help center" not in answer.text and "帮助中心" not in answer.text
    assert answer.form["fields"] == [
        {
            "name": "server",
            "label": "服务器" if re.search("[\u4e00-\u9fff]", detail) else "Server",
            "required": True,
            "type": "select",
            "options": ["S1", "S2", "S3", "S4"],
        }
    ]
    assert after.text.startswith(noted), after.text
    conversation = await conversation_of(visitor)
    assert conversation.facts["server"] in noted  # kept for staff, as the noted line says


@pytest.mark.parametrize(
    ("problem", "reply", "noted"),
    [
        ("my account got hacked", "my uid is 55555555", "Thanks, I've noted it: Player ID: 55555555."),
        ("我号被盗了，怎么办？", "我的ID是55555555", "好的，已记下：玩家ID：55555555。"),
    ],
)
async def test_an_id_a_visitor_types_is_noted_not_asked_for_again_and_staff_see_it_unverified(
    visitor, problem, reply, noted
):
    async with Chat(visitor) as chat:
        asked = await chat.say(problem)
        answer = await chat.say(reply)
        later = await chat.say("S2")

    assert [f["name"] for f in asked.form["fields"]] == ["player_id", "server"]
    assert answer.text.startswith(noted)
    # The server is still missing: asked for again, with the form (the id is not).
    assert [f["name"] for f in answer.form["fields"]] == ["server"]
    assert (await answer.meta())["facts"]["missing"] == ["server"]
    assert "55555555" in later.text and later.form is None
    # Only the game token verifies an id: the typed one is kept apart, and no tool gets it.
    conversation = await conversation_of(visitor)
    assert conversation.facts == {"claimed_player_id": "55555555", "server": "S2"}


async def test_an_id_given_with_the_problem_is_not_asked_for(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("my account got hacked, my player ID is 55555555")

    assert [f["name"] for f in answer.form["fields"]] == ["server"]
    assert "Player ID" not in answer.text


@pytest.mark.parametrize(
    ("problem", "reply", "noted"),
    [
        (
            "my account got hacked",
            "it's 55555555 on server s2 I think",
            "Thanks, I've noted it: Player ID: 55555555, Server: S2.",
        ),
        ("我号被盗了，怎么办？", "应该是55555555，在二服吧", "好的，已记下：玩家ID：55555555，服务器：S2。"),
        (
            "the game keeps crashing on my iphone",
            "I'm pretty sure it's server S2",
            "Thanks, I've noted it: Device: iOS, Server: S2.",
        ),
    ],
)
async def test_details_given_in_a_sentence_are_noted_not_answered_with_the_article_again(
    visitor, problem, reply, noted
):
    async with Chat(visitor) as chat:
        await chat.say(problem)
        answer = await chat.say(reply)

    assert answer.text.startswith(noted)
    assert "help center" not in answer.text and "帮助中心" not in answer.text


async def test_a_fact_the_player_already_wrote_is_not_asked_for(lin):
    async with Chat(lin) as chat:
        answer = await chat.say("订单SL2025061201的钻石没到账")

    assert answer.form is None
    assert "SL2025061201" in answer.text and "已到账" in answer.text


async def test_player_scope_a_question_about_another_player_gets_nothing_of_theirs(lin, game_backend):
    async with Chat(lin) as chat:
        ban = await chat.say("帮我查一下玩家ID 20002 的封号情况")
        order = await chat.say("再查下订单 SL2025070001 到账了没有")

    # Kai (20002) is banned for B-205 and owns order SL2025070001; Lin sees neither.
    assert "B-205" not in ban.text and "third-party" not in ban.text and "没有" in ban.text
    assert "没有找到订单 SL2025070001" in order.text and "6480" not in order.text
    assert {r["query"].get("player_id") or r["path"].split("/")[3] for r in game_backend.requests} == {"10086"}
    conversation = await conversation_of(lin)
    assert conversation.facts["player_id"] == "10086"


async def test_a_visitor_who_is_not_signed_in_gets_no_tool_call(visitor, game_backend):
    async with Chat(visitor) as chat:
        answer = await chat.say("my top-up SL2025061201 didn't arrive")

    assert "Settings → Help Center → Contact Support" in answer.text
    assert answer.end["sources"]  # the help-center answer still comes
    assert game_backend.requests == []


@pytest.mark.parametrize(
    ("messages", "heard"),
    [
        (["my order SL2025061201 didn't arrive"], "I've noted what you gave me (Order number: SL2025061201)."),
        (["my account got banned, my player id is 55555555"], "I've noted what you gave me (Player ID: 55555555)."),
        (["订单SL2025061201的钻石没到账"], "你提供的信息我已经记下了（订单号：SL2025061201）。"),
        (["充值没到账", "SL2025061201"], "好的，已记下：订单号：SL2025061201。"),
        # The id they were told cannot verify them, given anyway: noted, not read as reporting a player.
        (["充值没到账", "SL2025061201", "我的玩家ID是10086"], "好的，已记下：订单号：SL2025061201，玩家ID：10086。"),
        (["my top-up didn't arrive", "SL2025061201", "uid 10086"], "Order number: SL2025061201, Player ID: 10086."),
        (["我的装备不见了", "霜牙之剑", "三服"], "好的，已记下：物品名称：霜牙之剑，服务器：S3。"),
        (["my stuff is gone", "Frostfang Sword", "S3"], "Thanks, I've noted it: Item: Frostfang Sword, Server: S3."),
        # Both in one reply, set apart: not the server alone and "which item?" again.
        (["我的装备不见了", "霜牙之剑，三服"], "好的，已记下：物品名称：霜牙之剑，服务器：S3。"),
        (["my stuff is gone", "Frostfang Sword, S3"], "Thanks, I've noted it: Item: Frostfang Sword, Server: S3."),
        # ... or in one phrase, the server linked to the item: both noted, not the server alone.
        (["我的装备不见了", "霜牙之剑在三服"], "好的，已记下：物品名称：霜牙之剑，服务器：S3。"),
        (["我的装备不见了", "三服的霜牙之剑"], "好的，已记下：物品名称：霜牙之剑，服务器：S3。"),
        (["my stuff is gone", "Frostfang Sword on S3"], "Thanks, I've noted it: Item: Frostfang Sword, Server: S3."),
    ],
)
async def test_a_visitor_who_gave_every_detail_hears_them_noted_and_exactly_how_to_be_verified(
    visitor, game_backend, messages, heard
):
    async with Chat(visitor) as chat:
        for text in messages:
            answer = await chat.say(text)

    # What they gave is not lost on the bot; what it lacks is them signed in, and how to do that.
    assert heard in answer.text, answer.text
    assert ("Settings → Help Center → Contact Support" in answer.text and "signed in" in answer.text) or (
        "设置 → 客服中心 → 联系客服" in answer.text and "自动登录你的账号" in answer.text
    )
    assert "a player ID included" in answer.text or "包括玩家ID" in answer.text
    assert [option["intent"] for option in answer.quick_replies] == ["human"]
    assert game_backend.requests == []


@pytest.mark.parametrize(
    ("question", "heard", "article"),
    [
        (
            "my top-up didn't arrive",
            "Thanks, I've noted it: Order number: SL2025061201.",
            "Still missing after 2 hours",
        ),
        ("充值没到账", "好的，已记下：订单号：SL2025061201。", "超过 2 小时仍未到账"),
    ],
)
async def test_a_visitor_who_fills_in_the_form_hears_the_order_noted_and_how_to_sign_in_not_the_article_again(
    visitor, game_backend, question, heard, article
):
    """The bot quoted the top-up article again ("Still missing after 2 hours?…") above the
    sign-in steps: the player had just read it, under the very form they filled in."""
    async with Chat(visitor) as chat:
        asked = await chat.say(question)
        values = {"order_no": "SL2025061201"}
        answer = await chat.exchange({"type": "form_submit", "form_id": asked.form["form_id"], "values": values})

    assert asked.end["sources"]  # the article, read once, above the form
    assert answer.text.startswith(heard), answer.text
    assert (
        article not in answer.text and "help center says" not in answer.text and "帮助中心是这样说的" not in answer.text
    )
    assert not answer.end.get("sources")
    assert "Settings → Help Center → Contact Support" in answer.text or "设置 → 客服中心 → 联系客服" in answer.text
    assert [option["intent"] for option in answer.quick_replies] == ["human"]
    assert game_backend.requests == []


async def test_a_tool_timeout_and_a_server_error_are_told_honestly(lin, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0
    await sync_to_async(_tool_timeout)(0.3)
    async with Chat(lin) as chat:
        slow = await chat.say("订单 SL0000000408 没到账")
        broken = await chat.say("订单 SL0000000500 没到账")

    for answer in (slow, broken):
        assert "查询系统暂时没有响应" in answer.text
        assert [o["label"] for o in answer.quick_replies] == ["转人工客服"]
    assert (await slow.meta())["tool_calls"][0]["error"] == "timeout"
    assert (await broken.meta())["tool_calls"][0]["error"] == "http_500"


def _tool_timeout(seconds: float) -> None:
    from agents import catalogue
    from agents.models import Tool

    Tool.objects.filter(name="order_status").update(timeout_seconds=seconds)
    catalogue.invalidate()


async def test_an_upset_player_gets_an_apology_and_a_next_step(lin):
    async with Chat(lin) as chat:
        answer = await chat.say("怎么还没到账，有点着急")

    assert answer.text.startswith("抱歉让你着急了")
    meta = await answer.meta()
    assert meta["sentiment"]["level"] == "upset" and not meta["sentiment"]["escalate"]
    conversation = await conversation_of(lin)
    assert conversation.state == "bot" and conversation.sentiment == meta["sentiment"]["score"]
    player_message = await sync_to_async(Message.objects.filter(sender="player").latest)("seq")
    assert player_message.meta["sentiment"]["score"] < -0.3  # what analytics reads


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        # Upset three times in a row.
        (["怎么还没到账，有点着急", "等了一个小时了还没到，好烦", "到底什么时候到，真失望"], "人工客服"),
        # Still this frustrated after the bot's help (the crash guidance, the details noted).
        (
            [
                "the game crashes every time I open the shop, this is ridiculous",
                "iPhone, S2",
                "still crashing. this is ridiculous",
            ],
            "human agent",
        ),
    ],
)
async def test_a_player_who_stays_upset_after_the_bots_help_gets_a_person(visitor, messages, says):
    async with Chat(visitor) as chat:
        for message in messages:
            last = await chat.say(message)

    assert says in last.text
    assert any(f.get("type") == "state" and f["state"] == "waiting" for f in last.frames)
    conversation = await conversation_of(visitor)
    assert conversation.state == "waiting" and conversation.handoff_reason == "sentiment"
    assert await sync_to_async(ConversationEvent.objects.filter(kind="escalated", reason="sentiment").exists)()


@pytest.mark.parametrize(
    ("question", "again", "sorry"),
    [
        ("my top-up didn't arrive", "I've asked THREE TIMES", "I'm sorry you've had to ask again"),
        ("my top-up didn't arrive", "nothing. again.", "I'm sorry you've had to ask again"),
        ("my top-up didn't arrive", "I asked for a refund 3 times already", "I'm sorry you've had to ask again"),
        ("WHERE IS MY TOP UP???", "WHERE IS MY TOP UP???", "I'm sorry you've had to ask again"),
        ("充值没到账", "我都问了三遍了", "抱歉让你反复询问"),
        ("充值还没到账，急", "充值还没到账，急", "抱歉让你反复询问"),
    ],
)
async def test_a_player_who_repeats_themselves_is_not_given_the_same_answer_again(visitor, question, again, sorry):
    async with Chat(visitor) as chat:
        first = await chat.say(question)
        answer = await chat.say(again)

    assert first.end["sources"]
    assert answer.text.startswith(sorry)
    assert "help center" not in answer.text and "帮助中心" not in answer.text  # not the article once more
    assert not answer.end.get("sources")  # nor listed under the answer
    assert [o["intent"] for o in answer.quick_replies] == ["human"]
    assert (await answer.meta())["reply"] == "repeated"


@pytest.mark.parametrize(
    ("question", "again", "says"),
    [
        (
            "how do I appeal a ban",
            "How do I appeal a ban?",
            "I answered that just above with **Account banned or suspended: how to appeal**, so it seems it "
            "didn't fit your case. Tell me what's different",
        ),
        (
            "forgot my password",
            "forgot my password",
            "I answered that just above with **Password reset, two-step verification and phishing**",
        ),
        ("怎么申诉封号", "怎么申诉封号？", "这个问题我刚才用“账号被封禁（封号）怎么申诉”回答过了，看来"),
        ("活动奖励没收到", "活动奖励没收到", "这个问题我刚才用“当前活动：星落庆典”回答过了"),
    ],
)
async def test_a_calm_player_who_sends_the_same_question_again_is_asked_what_differs_not_apologised_to(
    visitor, question, again, says
):
    async with Chat(visitor) as chat:
        first = await chat.say(question)
        answer = await chat.say(again)

    assert first.end["sources"]
    assert answer.text.startswith(says)
    assert "sorry" not in answer.text.lower() and "抱歉" not in answer.text  # they voiced no grievance
    assert not answer.end.get("sources")  # not the article once more
    assert [o["intent"] for o in answer.quick_replies] == ["human"]
    assert (await answer.meta())["reply"] == "repeated"


@pytest.mark.parametrize(
    ("messages", "says"),
    [
        (["how do I appeal a ban"] * 3, "My answers haven't helped with this, so I'm bringing in a colleague"),
        (["how do I appeal a ban", "how do I appeal a ban", "I've asked twice already"], "My answers haven't helped"),
        (["怎么申诉封号"] * 3, "看来我的回答帮不上这个问题，我请客服同事来接手。"),
    ],
)
async def test_a_player_who_repeats_themselves_once_more_after_the_offer_of_a_person_gets_one(visitor, messages, says):
    async with Chat(visitor) as chat:
        for message in messages:
            last = await chat.say(message)

    assert last.text.startswith(says)
    assert any(f.get("type") == "state" and f["state"] == "waiting" for f in last.frames)
    conversation = await conversation_of(visitor)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "dont_know")


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("I asked support 3 times about my missing sword", "Lost or missing items and item recovery"),
        ("I've contacted you twice about my lost sword and nothing", "Lost or missing items and item recovery"),
        ("I messaged support 3 times about my missing mount, still nothing", "Lost or missing items and item recovery"),
        ("I've asked you guys 4 times why my account is banned", "Account banned or suspended: how to appeal"),
        ("我问了客服三次了，我的剑还是没找回来", "道具丢失、装备不见了怎么找回"),
        ("我都问了三遍了，我的装备丢了", "道具丢失、装备不见了怎么找回"),
    ],
)
async def test_a_player_who_says_they_asked_support_before_gets_the_article_of_their_case(visitor, question, article):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    # Not the FAQ on contacting support, nor "If your account was hacked" for its "Ask for item recovery".
    assert answer.end["sources"][0]["title"] == article, answer.end["sources"]
    # Heard, in so many words, rather than "Sorry for the trouble, I understand".
    assert answer.text.startswith(("I'm sorry you've had to ask more than once.", "抱歉让你反复询问，这次")), (
        answer.text
    )
    assert [o["intent"] for o in answer.quick_replies][-1:] == ["human"]


@pytest.mark.parametrize(
    ("problem", "item", "noted"),
    [
        ("我的装备不见了", "霜牙之剑", "好的，已记下：物品名称：霜牙之剑。"),
        # Stored, and said back, without the particle or the hedge around it.
        ("我的装备不见了", "霜牙之剑吧", "好的，已记下：物品名称：霜牙之剑。"),
        # Not "what about the Frostfang Sword?", answered with the article again.
        ("我的装备不见了", "霜牙之剑呢", "好的，已记下：物品名称：霜牙之剑。"),
        ("我的装备不见了", "应该是霜牙之剑的吧", "好的，已记下：物品名称：霜牙之剑。"),
        ("my stuff is gone", "Frostfang Sword I think", "Thanks, I've noted it: Item: Frostfang Sword."),
        ("my stuff is gone", "maybe Frostfang Sword", "Thanks, I've noted it: Item: Frostfang Sword."),
    ],
)
async def test_an_item_named_alone_in_reply_to_the_item_and_server_question_is_noted(visitor, problem, item, noted):
    async with Chat(visitor) as chat:
        asked = await chat.say(problem)
        answer = await chat.say(item)

    assert [f["name"] for f in asked.form["fields"]] == ["item_name", "server"]
    assert answer.text.startswith(noted), answer.text  # not "which of these is it about?"
    stored = (await conversation_of(visitor)).facts["item_name"]
    assert stored in ("霜牙之剑", "Frostfang Sword"), stored


@pytest.mark.parametrize(
    ("problem", "detail", "says", "still"),
    [
        ("我的装备不见了", "霜牙之剑", "好的，已记下：物品名称：霜牙之剑。我这边还差服务器，发给我或者填写", "server"),
        ("背包里的东西没了", "霜牙之剑", "好的，已记下：物品名称：霜牙之剑。我这边还差服务器", "server"),
        ("我号被盗了，怎么办？", "二服", "好的，已记下：服务器：S2。我这边还差玩家ID，发给我或者", "player_id"),
        (
            "my stuff is gone",
            "Frostfang Sword",
            "Thanks, I've noted it: Item: Frostfang Sword. To go on I need",
            "server",
        ),
        (
            "the game keeps crashing",
            "android",
            "Thanks, I've noted it: Device: Android. To go on I need your",
            "server",
        ),
        (
            "my account got hacked",
            "I'm on s2",
            "Thanks, I've noted it: Server: S2. To go on I need your player",
            "player_id",
        ),
    ],
)
async def test_a_player_who_gave_some_of_the_details_is_told_what_is_still_needed(
    visitor, problem, detail, says, still
):
    async with Chat(visitor) as chat:
        await chat.say(problem)
        answer = await chat.say(detail)

    assert answer.text.startswith(says), answer.text
    assert [f["name"] for f in answer.form["fields"]] == [still]
    assert [o["intent"] for o in answer.quick_replies] == ["human"]


@pytest.mark.parametrize(
    ("problem", "item", "nudge", "server"),
    [
        ("my stuff is gone", "Frostfang Sword", "ok", "S3"),
        ("我的装备不见了", "霜牙之剑", "好的", "三服"),
        ("我的装备不见了", "霜牙之剑", "快点", "三服"),
    ],
)
async def test_the_detail_still_needed_is_taken_after_an_ok_to_the_request(visitor, problem, item, nudge, server):
    async with Chat(visitor) as chat:
        await chat.say(problem)
        await chat.say(item)
        waiting = await chat.say(nudge)
        answer = await chat.say(server)

    assert [f["name"] for f in waiting.form["fields"]] == ["server"]
    assert not answer.text.startswith(("I'd like to get this right", "我想更准确地帮到你")), answer.text
    conversation = await conversation_of(visitor)
    assert (conversation.intent, conversation.facts["server"]) == ("lost_items", "S3")


@pytest.mark.parametrize("question", ["where is my stuff", "my stuff is gone", "all my belongings disappeared"])
async def test_a_player_whose_stuff_is_gone_gets_the_article_on_lost_items(visitor, question):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    # Not the phishing section, for "stuff" read as a misspelt "staff".
    assert answer.end["sources"][0]["title"] == "Lost or missing items and item recovery", answer.end["sources"]
    assert "phishing" not in answer.text


@pytest.mark.parametrize(
    ("question", "opening"),
    [
        ("我的号被封了", "登录时看到处罚通知、无法进入游戏，说明账号因违反用户协议受到了限制。"),
        ("我被封号了", "登录时看到处罚通知、无法进入游戏，说明账号因违反用户协议受到了限制。"),
        ("账号被封了怎么办", "登录时看到处罚通知、无法进入游戏，说明账号因违反用户协议受到了限制。"),
        ("my account got banned", "If you cannot log in and see a penalty notice, your account has been restricted"),
        ("I got banned", "If you cannot log in and see a penalty notice, your account has been restricted"),
    ],
)
async def test_a_banned_player_reads_how_to_tell_their_account_is_restricted_in_either_language(
    visitor, question, opening
):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    # The article's introduction first, in Chinese as in English, not only "处罚类型" (the
    # section that says 封号 most), and how to show it is their account.
    quoted = re.split(r"[:：]\n\n", answer.text, maxsplit=1)[1]
    assert quoted.startswith(opening), quoted
    assert "需要先确认是你本人" in answer.text or "I first need to know it's you" in answer.text


@pytest.mark.parametrize(
    ("question", "denial", "article"),
    [
        ("my account got banned for no reason!!!", "i never cheated", "Account banned or suspended: how to appeal"),
        ("my account got banned for no reason!!!", "I didn't cheat", "Account banned or suspended: how to appeal"),
        ("我的号被封了", "我没开挂啊", "账号被封禁（封号）怎么申诉"),
    ],
)
async def test_a_banned_player_who_says_they_did_not_cheat_stays_on_the_ban_article(visitor, question, denial, article):
    async with Chat(visitor) as chat:
        await chat.say(question)
        answer = await chat.say(denial)

    # Not the phishing section for its "never", nor the FAQ on reporting a cheater.
    assert answer.end["sources"][0]["title"] == article, answer.end["sources"]
    # And of it how to appeal, not what happens after an appeal they have not sent.
    assert "appeal within **30 days**" in answer.text or "**30 天内** 申诉" in answer.text, answer.text


@pytest.mark.parametrize(
    ("question", "stuck", "says"),
    [
        ("i cant login", "still doesnt work", "Sorry that didn't fix it. Tell me what you tried and what you see now"),
        ("i never got my event reward", "that didn't help", "Sorry that didn't fix it."),
        ("i cant login", "nope, still not working", "Sorry that didn't fix it."),
        ("登录不了怎么办", "试过了，还是不行", "抱歉，这个办法没能解决你的问题。告诉我你试了哪些步骤"),
        ("活动奖励没收到", "没用啊", "抱歉，这个办法没能解决你的问题。"),
        # Not the article on changing servers with a form for an order number.
        ("活动奖励的邮件一直没收到", "还是没有", "抱歉，这个办法没能解决你的问题。"),
    ],
)
async def test_a_player_the_answer_did_not_help_is_asked_what_they_see_and_offered_a_person(
    visitor, question, stuck, says
):
    async with Chat(visitor) as chat:
        first = await chat.say(question)
        answer = await chat.say(stuck)
        again = await chat.say(stuck)

    assert first.end["sources"]
    assert answer.text.startswith(says), answer.text
    assert "Monthly Card" not in answer.text and not answer.end.get("sources")  # no article its words found
    assert [o["intent"] for o in answer.quick_replies] == ["human"]
    # Said again after the offer: a person takes it.
    assert again.text.startswith(("My answers haven't helped", "看来我的回答帮不上这个问题"))
    conversation = await conversation_of(visitor)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "dont_know")


@pytest.mark.parametrize(
    ("question", "giving_up", "says"),
    [
        ("i cant login", "ok whatever", "Okay, I'm sorry I couldn't sort it out this time."),
        ("my topup didn't arrive", "never mind", "Okay, I'm sorry I couldn't sort it out this time."),
        ("how do I appeal a ban", "forget it", "Okay, I'm sorry I couldn't sort it out this time."),
        ("登录不了怎么办", "算了", "好的，抱歉这次没能帮上你。"),
        ("充值没到账", "算了吧", "好的，抱歉这次没能帮上你。"),
        ("活动奖励没收到", "好吧，算了", "好的，抱歉这次没能帮上你。"),
    ],
)
async def test_a_player_who_gives_up_after_an_answer_is_offered_a_person_or_another_try(
    visitor, question, giving_up, says
):
    async with Chat(visitor) as chat:
        await chat.say(question)
        answer = await chat.say(giving_up)

    # Not "Which of these is it about?" with the menu of topics, as if starting over.
    assert answer.text.startswith(says), answer.text
    assert ("Talk to a human" in answer.text and "tell me again" in answer.text) or (
        "转人工客服" in answer.text and "再跟我说一次" in answer.text
    )
    assert [option["intent"] for option in answer.quick_replies] == ["human"]
    assert (await answer.meta())["reply"] == "gave_up"
    assert (await conversation_of(visitor)).state == Conversation.State.BOT


@pytest.mark.parametrize(
    ("problem", "stuck", "says", "fields", "detail", "noted"),
    [
        (
            "the game keeps crashing",
            "tried that, didn't help",
            "Sorry that didn't fix it. To look further I need your device and server",
            ["device", "server"],
            "android, s2",
            "Thanks, I've noted it: Device: Android, Server: S2.",
        ),
        (
            "游戏一直闪退",
            "试过了，还是不行",
            "抱歉，这个办法没能解决你的问题。为了进一步排查，还需要你的设备和服务器",
            ["device", "server"],
            "安卓，二服",
            "好的，已记下：设备：Android，服务器：S2。",
        ),
        # Said where the bot had asked for the item: not taken for the item's name.
        (
            "我的装备不见了",
            "试过了，还是不行",
            "抱歉，这个办法没能解决你的问题。为了进一步排查，还需要你的物品名称和服务器",
            ["item_name", "server"],
            "霜牙之剑",
            "好的，已记下：物品名称：霜牙之剑。",
        ),
    ],
)
async def test_a_player_the_answer_did_not_help_is_asked_for_the_details_still_missing(
    visitor, problem, stuck, says, fields, detail, noted
):
    async with Chat(visitor) as chat:
        await chat.say(problem)
        answer = await chat.say(stuck)
        after = await chat.say(detail)

    assert answer.text.startswith(says), answer.text
    assert [f["name"] for f in answer.form["fields"]] == fields
    assert after.text.startswith(noted), after.text
    assert (await conversation_of(visitor)).facts.get("item_name") in (None, "霜牙之剑")


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("I asked my friend 2 times how to join a guild and he doesn't know", "Gameplay guide"),
        ("my guildmate told me three times to join a guild, how do I do it?", "Gameplay guide"),
        ("问朋友问了三遍怎么加入公会，他也不知道", "玩法指南"),
    ],
)
async def test_a_player_who_asked_someone_else_before_gets_the_answer_without_an_apology(visitor, question, article):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert article in answer.text
    assert not answer.text.startswith(("Sorry", "I'm sorry", "抱歉", "非常抱歉"))
    meta = await answer.meta()
    assert meta["reply"] == "answer"


@pytest.mark.parametrize(
    ("complaint", "sorry", "guidance"),
    [
        (
            "the game crashes every time I open the shop, this is ridiculous",
            "I'm really sorry about this. I understand how frustrating it is",
            "Reporting a bug, crash or error",
        ),
        ("游戏一直闪退，太离谱了", "非常抱歉给你带来这么糟糕的体验", "反馈游戏 bug、闪退和报错"),
    ],
)
async def test_a_frustrated_crash_report_is_soothed_and_helped_not_handed_over(visitor, complaint, sorry, guidance):
    async with Chat(visitor) as chat:
        answer = await chat.say(complaint)

    assert answer.text.startswith(sorry)
    assert guidance in answer.text  # what to try, and where to report it
    assert [f["name"] for f in answer.form["fields"]] == ["device", "server"]  # the facts a bug report needs
    assert not any(f.get("type") == "state" for f in answer.frames)
    assert (await conversation_of(visitor)).state == "bot"


@pytest.mark.parametrize(
    ("opener", "says"),
    [
        ("客服在吗", "在的！我是客服团队的智能助手"),
        ("在吗？", "在的！我是客服团队的智能助手"),
        ("有人吗", "在的！我是客服团队的智能助手"),
        ("你好，客服在不在", "在的！我是客服团队的智能助手"),
        ("is anyone from support there?", "Yes, I'm here! I'm the support team's assistant"),
        ("hello? anyone there", "Yes, I'm here! I'm the support team's assistant"),
        ("are you there?", "Yes, I'm here! I'm the support team's assistant"),
        ("is support online?", "Yes, I'm here! I'm the support team's assistant"),
    ],
)
async def test_asking_whether_support_is_there_is_answered_with_what_happened_not_queued(visitor, opener, says):
    async with Chat(visitor) as chat:
        answer = await chat.say(opener)

    # The opener before the real question: the bot is here and asks for it, a person a tap away.
    assert answer.text.startswith(says), answer.text
    assert "遇到什么情况了" in answer.text or "What happened?" in answer.text
    assert [option["intent"] for option in answer.quick_replies] == ["human"]
    assert not any(f.get("type") == "state" for f in answer.frames)
    conversation = await conversation_of(visitor)
    assert (conversation.state, conversation.intent) == (Conversation.State.BOT, "")


@pytest.mark.parametrize(
    "request_for_a_person",
    [
        "who's in charge of bans? I want to talk to them",
        "can I talk to whoever handles refunds?",
        "找负责封号的人",
        "can someone from the ban team look at my account?",
        "能让封号组的人看看我的账号吗",
        # A person outright, also with "is anyone there" (which alone the bot answers).
        "转人工",
        "I want a human",
        "客服在吗？转人工",
        "人工客服在吗",
    ],
)
async def test_asking_for_a_person_or_whoever_handles_the_case_puts_the_chat_in_the_queue(
    visitor, request_for_a_person
):
    async with Chat(visitor) as chat:
        await chat.sock.send({"type": "send", "client_id": "ask-for-them", "text": request_for_a_person})
        await chat.sock.receive_until(lambda f: f.get("type") == "state" and f["state"] == "waiting")

    conversation = await conversation_of(visitor)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "player_request")


@pytest.mark.parametrize(
    ("outburst", "heard", "asked"),
    [
        ("FUCK THIS GAME", "I can tell the game has really got to you", "Tell me what happened: what were you doing"),
        ("you guys are useless", "I'm really sorry about this.", "Tell me what happened: what were you doing"),
        ("I'm done with this game, uninstalling", "I hear you: the game has been frustrating", "Tell me what happened"),
        ("垃圾游戏", "听得出来这游戏让你非常恼火", "跟我说说发生了什么"),
        ("什么破游戏", "听得出来这游戏让你挺窝火的", "跟我说说发生了什么"),
        ("F*** this", "I'm really sorry about this.", "Tell me what happened"),
        ("我要退游了，再见", "非常抱歉给你带来这么糟糕的体验", "跟我说说发生了什么"),
        # Impatience: no article found by "take" (Lost items) or "up" (the top-up).
        ("this is taking forever", "Sorry for the trouble", "Tell me what happened"),
        ("hurry up", "Sorry for the trouble", "Tell me what happened"),
        ("好慢啊", "抱歉让你着急了", "跟我说说发生了什么"),
    ],
)
async def test_an_outburst_with_nothing_else_is_heard_and_asked_what_happened(visitor, outburst, heard, asked):
    async with Chat(visitor) as chat:
        answer = await chat.say(outburst)

    assert answer.text.startswith(heard) and asked in answer.text
    assert "help center" not in answer.text and "帮助中心" not in answer.text  # no article found by "game"
    assert not answer.end.get("sources")  # nor one listed under the answer
    assert answer.quick_replies[-1]["intent"] == "human" and len(answer.quick_replies) == 5
    assert answer.form is None
    assert (await conversation_of(visitor)).state == "bot"


@pytest.mark.parametrize(
    ("outburst", "heard", "asked", "again"),
    [
        ("什么破游戏", "听得出来这游戏让你挺窝火的，抱歉让你玩得不顺心。", "跟我说说发生了什么", "还是垃圾"),
        ("你们这破游戏", "听得出来这游戏让你挺窝火的", "跟我说说发生了什么", "垃圾"),
        ("这破游戏没法玩了", "听得出来这游戏让你挺窝火的", "跟我说说发生了什么", "真垃圾"),
        ("what a garbage game", "I can tell the game has really got to you", "Tell me what happened", "it's trash"),
        ("this game sucks", "I can tell the game has really got to you", "Tell me what happened", "garbage"),
        ("worst game ever", "I can tell the game has really got to you", "Tell me what happened", "useless"),
    ],
)
async def test_anger_at_the_game_is_owned_and_met_with_help_then_a_person(visitor, outburst, heard, asked, again):
    async with Chat(visitor) as chat:
        answer = await chat.say(outburst)
        state = (await conversation_of(visitor)).state
        after = await chat.say(again)

    # The game let them down: not "sorry for making you wait" (抱歉让你着急了).
    assert answer.text.startswith(heard), answer.text
    assert "着急" not in answer.text and "Sorry for the trouble" not in answer.text
    assert asked in answer.text and answer.quick_replies[-1]["intent"] == "human"
    assert state == "bot"
    # Still as angry after the offer of help: a person takes it, as for any upset player.
    assert after.text.startswith(("非常抱歉让你这么不愉快", "I'm very sorry this has been so frustrating")), after.text
    conversation = await conversation_of(visitor)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "sentiment")


@pytest.mark.parametrize(
    ("problem", "nudge", "reminded", "field"),
    [
        ("my topup didn't arrive", "hurry up", "Sorry for the wait.\n\nTo go on I need your order number", "order_no"),
        ("my topup didn't arrive", "can you hurry up??", "To go on I need your order number", "order_no"),
        ("the game keeps crashing on my iphone", "come on", "To go on I need your server", "server"),
        ("充值没到账", "快点", "抱歉让你久等了。\n\n我这边还差订单号", "order_no"),
        ("充值没到账", "能不能快点啊！！", "我这边还差订单号", "order_no"),
        ("游戏一直闪退，我用的安卓", "还要等多久", "我这边还差服务器", "server"),
    ],
)
async def test_hurrying_the_bot_while_it_waits_for_a_detail_is_reminded_what_it_needs(
    visitor, problem, nudge, reminded, field
):
    async with Chat(visitor) as chat:
        asked = await chat.say(problem)
        answer = await chat.say(nudge)
        again = await chat.say(nudge)

    assert [f["name"] for f in asked.form["fields"]] == [field]
    for reply in (answer, again):
        assert reminded in reply.text, reply.text
        assert "Tell me what happened" not in reply.text and "跟我说说发生了什么" not in reply.text
        assert [f["name"] for f in reply.form["fields"]] == [field]
    assert (await conversation_of(visitor)).state == "bot"


async def test_an_outburst_is_not_taken_for_a_topic(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("this game is garbage")

    # The classifier would read "garbage" as a bug report: staff would see one, and the bot
    # would go on asking for a device and a server.
    assert (await answer.meta())["intent"]["name"] == ""
    assert (await conversation_of(visitor)).intent == ""


async def test_a_shouted_question_is_met_with_an_apology_before_the_answer(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("WHERE IS MY TOP UP???")

    assert answer.text.startswith("Sorry for the trouble, I understand.")
    assert "Recharge (top-up) not received" in answer.text
    assert (await conversation_of(visitor)).state == "bot"


async def test_a_threat_of_a_public_complaint_gets_a_person_at_once(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("fix my top-up or I'll leave a 1 star review")

    assert "human agent" in answer.text
    assert (await conversation_of(visitor)).state == "waiting"


async def test_extreme_anger_escalates_at_once(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("this is a SCAM, you fucking thieves!!")

    assert "human agent" in answer.text
    assert (await conversation_of(visitor)).state == "waiting"


async def test_a_question_the_knowledge_base_cannot_answer_is_a_knowledge_gap(visitor, settings):
    settings.KNOWLEDGE_GAP_BATCH_SECONDS = 0.1  # gaps go to analytics in batches, this far apart
    async with Chat(visitor) as chat:
        answer = await chat.say("how do I breed dragons in the desert zone")

    assert "couldn't find anything" in answer.text
    assert [o["label"] for o in answer.quick_replies] == ["Talk to a human"]
    meta = await answer.meta()
    assert meta["knowledge_gap"] is True and meta["sources"] == []
    from analytics.models import KnowledgeGap

    for _ in range(100):
        if await KnowledgeGap.objects.aexists():
            break
        await asyncio.sleep(0.05)
    gap = await sync_to_async(KnowledgeGap.objects.get)()
    assert gap.question == "how do I breed dragons in the desert zone"


async def test_an_answer_offers_no_off_topic_articles_as_related(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("how do I change my character name")

    assert "Name Change Card" in answer.text
    assert "You may also find these useful" not in answer.text
    assert [s["title"] for s in answer.end["sources"]] == ["How do I change my character name?"]


async def test_the_article_of_the_recognised_topic_is_quoted_first(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("游戏一直闪退，用的苹果手机")  # 苹果 and 手机: also the FAQ on binding an Apple account

    assert (await answer.meta())["intent"]["name"] == "bug_report"
    assert answer.end["sources"][0]["title"] == "反馈游戏 bug、闪退和报错"
    assert answer.text.startswith("关于“反馈游戏 bug、闪退和报错”，帮助中心是这样说的")


async def test_a_short_chinese_question_after_an_english_greeting_is_answered_in_chinese(visitor):
    """Chinese has no spaces: "兑换码怎么用" is one "word", not a bare value like "S3"."""
    async with Chat(visitor) as chat:
        await chat.say("hi")
        answer = await chat.say("兑换码怎么用")

    meta = await answer.meta()
    assert meta["sources"], answer.text  # the Chinese help article, found
    assert "兑换码" in answer.text and "couldn't find" not in answer.text


async def test_a_lost_item_named_in_the_players_words_finds_the_lost_items_article(lin):
    """Mostly a name the help center never mentions: the recognised topic finds its article,
    and the answer asks for what the mail lookup needs instead of saying it found nothing."""
    async with Chat(lin) as chat:
        answer = await chat.say("I lost my Frostfang Sword")

    assert "couldn't find" not in answer.text
    assert [s["title"] for s in (await answer.meta())["sources"]][0] == "Lost or missing items and item recovery"
    assert "An item is gone from your bag" in answer.text  # the article from its introduction
    assert [f["name"] for f in answer.form["fields"]] == ["server"]  # for the mail lookup


@pytest.mark.parametrize(
    ("said", "item", "found"),
    [
        ("I lost my Frostfang Sword", "Frostfang Sword", "**Frostfang Sword**: item restore (ticket 4411)"),
        ("我的霜牙之剑丢了", "霜牙之剑", "**霜牙之剑**：物品恢复（工单 4411）"),  # found by its Chinese name
    ],
)
async def test_the_item_a_player_names_is_not_asked_for_again(lin, game_backend, said, item, found):
    async with Chat(lin) as chat:
        named = await chat.say(said)
        looked_up = await chat.say("S3")

    assert [f["name"] for f in named.form["fields"]] == ["server"]
    # Not the form's "Item" label; the article's "Items sold to a merchant…" may be quoted.
    assert "Which item" not in named.text and "哪件物品" not in named.text and not re.search(r"\bItem\b", named.text)
    assert found in looked_up.text
    assert (await conversation_of(lin)).facts["item_name"] == item
    assert [r["query"] for r in game_backend.requests][-1] == {"item": item}


async def test_a_question_or_a_shrug_is_not_taken_for_the_item_the_bot_asked_for(lin):
    async with Chat(lin) as chat:
        await chat.say("我在三服，装备不见了")  # "Which item is missing?"
        await chat.say("how do I get it back")
        await chat.say("不知道")

    assert "item_name" not in (await conversation_of(lin)).facts


async def test_details_asked_for_with_no_article_to_quote_are_asked_plainly(lin, monkeypatch):
    from agents.pipeline import retrieval

    for search in ("search", "search_topic"):  # a help center with nothing on it
        monkeypatch.setattr(retrieval, search, lambda *args, **kwargs: [])
    async with Chat(lin) as chat:
        answer = await chat.say("我的装备不见了")

    assert answer.text.startswith("为了帮你查清楚，还需要这些信息") and "没有找到" not in answer.text
    assert {f["name"] for f in answer.form["fields"]} == {"server", "item_name"}


async def test_a_corrected_order_number_is_looked_up_again(lin, game_backend):
    async with Chat(lin) as chat:
        wrong = await chat.say("订单 SL2025070001 的充值没到账")  # Kai's order, not Lin's
        corrected = await chat.say("my order number is SL2025061201")

    assert "没有找到订单 SL2025070001" in wrong.text
    assert "I found your order **SL2025061201**" in corrected.text and "delivered" in corrected.text
    calls = (await corrected.meta())["tool_calls"]
    assert calls[0]["tool"] == "order_status" and calls[0]["params"]["order_no"] == "SL2025061201"


async def test_a_new_question_is_not_taken_for_the_item_the_bot_asked_for(lin):
    async with Chat(lin) as chat:
        asked = await chat.say("我在三服，装备不见了")
        question = await chat.say("what time does the server restart?")

    assert [f["name"] for f in asked.form["fields"]] == ["item_name"]  # "Which item is missing?"
    assert "item_name" not in (await conversation_of(lin)).facts
    assert (await question.meta())["intent"]["source"] != "follow_up"


async def test_asking_for_a_person_keeps_the_topic_the_agent_will_see(lin):
    async with Chat(lin) as chat:
        await chat.say("我在三服，装备不见了")
        await chat.sock.send({"type": "send", "client_id": "ask-for-a-person", "text": "转人工"})
        await chat.sock.receive_until(lambda f: f.get("type") == "state" and f["state"] == "waiting")

    conversation = await conversation_of(lin)
    assert (conversation.state, conversation.intent) == ("waiting", "lost_items")


@pytest.mark.parametrize(
    ("question", "running"),
    [
        ("what events are on now", "runs from **December 15 to January 10**"),
        ("现在有什么活动", "的时间为 **12 月 15 日至 1 月 10 日**"),
    ],
)
async def test_asked_what_events_are_on_the_bot_says_which_event_runs_and_when(visitor, question, running):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert "Starfall Festival" in answer.text or "星落庆典" in answer.text
    assert running in answer.text
    assert "When the event ends" not in answer.text and "活动结束后" not in answer.text


@pytest.mark.parametrize(
    ("question", "ends"),
    [
        ("when does the event end?", "The event ends on **January 10** (server time)"),
        ("when does the festival end", "The event ends on **January 10** (server time)"),
        ("活动什么时候结束", "活动在 **1 月 10 日**（服务器时间）结束"),
        ("星落庆典几号结束？", "活动在 **1 月 10 日**（服务器时间）结束"),
    ],
)
async def test_asked_when_the_event_ends_the_bot_says_the_day(visitor, question, ends):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    # Not only what happens after it: the day it ends, and the shop's.
    assert ends in answer.text
    assert "January 13" in answer.text or "1 月 13 日" in answer.text


@pytest.mark.parametrize(
    ("question", "follow_ups", "topic", "article"),
    [
        (
            "my top-up didn't arrive, I paid on Android",
            ["and on iOS?", "what about PC?"],
            "recharge_not_arrived",
            "Recharge (top-up) not received",
        ),
        (
            "我充值了没到账，用的安卓",
            ["那iOS呢", "电脑呢？"],
            "recharge_not_arrived",
            "充值未到账（付款成功但星晶没到）",
        ),
        (
            "how do I reset my password",
            ["and on iOS?"],
            "account_security",
            "Password reset, two-step verification and phishing",
        ),
    ],
)
async def test_a_follow_up_that_leaves_its_subject_out_is_answered_within_the_chats_topic(
    visitor, question, follow_ups, topic, article
):
    """Read alone, "and on iOS?" is about the devices the game runs on."""
    async with Chat(visitor) as chat:
        await chat.say(question)
        answers = [await chat.say(text) for text in follow_ups]

    for answer in answers:
        assert answer.end["sources"][0]["title"] == article, answer.text
        assert "What devices" not in answer.text and "支持哪些手机" not in answer.text
        assert (await answer.meta())["intent"]["name"] == topic
    assert (await conversation_of(visitor)).intent == topic  # what staff see the chat is about


async def test_a_follow_up_that_names_another_subject_moves_to_it(visitor):
    async with Chat(visitor) as chat:
        await chat.say("my top-up didn't arrive")
        answer = await chat.say("what about the refund?")

    assert (await answer.meta())["intent"]["name"] == "refund"
    assert answer.end["sources"][0]["title"] == "Refund policy and how to request a refund"


@pytest.mark.parametrize(
    ("looked_up", "question", "answered"),
    [
        ("why is my account banned??", "how do I appeal", "support.starfall.example/appeal"),
        ("我的号为什么被封了", "申诉要多久", "5 个工作日内"),
    ],
)
async def test_a_question_right_after_a_lookup_is_answered_not_met_with_the_same_lookup(
    kai, game_backend, looked_up, question, answered
):
    async with Chat(kai) as chat:
        ban = await chat.say(looked_up)
        answer = await chat.say(question)

    assert "B-205" in ban.text
    assert answered in answer.text and "B-205" not in answer.text
    assert [r["path"] for r in game_backend.requests] == ["/api/players/20002/ban"]  # looked up once


@pytest.mark.parametrize(
    ("question", "article", "steps"),
    [
        ("why is my account banned??", "ban-appeal.en.md", ["support.starfall.example/appeal", "5 business days"]),
        (
            "我的号为什么被封了",
            "ban-appeal.zh.md",
            ["support.starfall.example/appeal", "客服中心 → 封号申诉", "5 个工作日内"],
        ),
    ],
)
async def test_the_ban_lookup_gives_the_same_appeal_steps_as_the_help_center(kai, question, article, steps):
    from django.conf import settings

    async with Chat(kai) as chat:
        answer = await chat.say(question)

    help_center = (settings.BASE_DIR / "agents" / "demo_kb" / article).read_text(encoding="utf-8")
    assert "B-205" in answer.text
    for step in steps:
        assert step in answer.text and step in help_center


@pytest.mark.parametrize(
    ("question", "chinese", "english"),
    [
        ("订单 SL2025061202 的月卡没到账", "- 商品：月卡", "Monthly Card"),
        ("订单SL2025061201充值没到账", "- 商品：648 星晶", "Star Crystals"),
    ],
)
async def test_an_order_looked_up_in_chinese_names_the_product_in_chinese(lin, question, chinese, english):
    async with Chat(lin) as chat:
        answer = await chat.say(question)

    assert chinese in answer.text and english not in answer.text


async def test_a_ban_looked_up_in_chinese_gives_its_reason_in_chinese(kai):
    async with Chat(kai) as chat:
        answer = await chat.say("我的号为什么被封了")

    assert "原因是“使用第三方自动化程序”" in answer.text and "automation" not in answer.text


async def test_a_follow_up_after_an_answer_on_no_topic_goes_back_to_the_topic_before_it(visitor):
    async with Chat(visitor) as chat:
        await chat.say("买错了能退钱吗")
        aside = await chat.say("谷歌商店买的")  # a detail, answered with a FAQ on no topic
        answer = await chat.say("那苹果的呢")

    assert (await aside.meta())["intent"]["name"] == ""
    assert (await answer.meta())["intent"]["name"] == "refund"
    assert answer.end["sources"][0]["title"] == "退款政策和申请退款的方法"
    assert "**App Store**（iPhone、iPad）：由苹果处理退款" in answer.text


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("I can't log in", "**If you can't log in**\n1. Check the announcements"),
        # Not "What to have ready" for its "the error code": what to send support once stuck.
        ("I can't log in, it says error 1004", "**If you can't log in**\n1. Check the announcements"),
        ("登录不了", "**登录不了怎么办**\n1. 先看公告"),
        ("登录不了，提示错误1004", "**登录不了怎么办**\n1. 先看公告"),
        ("登不上去", "**登录不了怎么办**\n1. 先看公告"),
        ("一直掉线", "**一直掉线**\n- 游戏时不要在 Wi-Fi 和移动数据之间来回切换"),
        ("keeps disconnecting", "**Disconnects**\n- Stay on one network"),
        ("游戏好卡", "**游戏卡顿、延迟高**\n- 屏幕右上角显示延迟"),
        ("high ping", "**Lag and high ping**\n- Your ping is shown"),
        ("lagging every evening", "**Lag and high ping**\n- Your ping is shown"),
    ],
)
async def test_a_player_who_cannot_log_in_or_lags_reads_the_steps_for_it(visitor, question, section):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    # Not "Can I play on more than one device?", lost items, or a bug report's form.
    quoted = re.split(r"[:：]\n\n", answer.text, maxsplit=1)[1]
    assert quoted.startswith(section)
    assert answer.form is None
    assert (await answer.meta())["intent"]["name"] == "login_connection"


@pytest.mark.parametrize(
    ("question", "article", "asked"),
    [
        # Its 每次 ("every time") found the ban appeal's "每次处罚只需提交一次申诉".
        ("每次打开商城就闪退", "关于“反馈游戏 bug、闪退和报错”", ["device", "server"]),
        # A top-up that has not arrived, not the refund policy for its "paid".
        ("I PAID 2 HOURS AGO", "about **Recharge (top-up) not received**", ["order_no"]),
    ],
)
async def test_a_crash_and_a_late_top_up_get_their_own_article_and_form(visitor, question, article, asked):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    quoting = next(
        line for line in answer.text.splitlines() if "help center says" in line or "帮助中心是这样说的" in line
    )
    assert article in quoting
    assert [field["name"] for field in answer.form["fields"]] == asked


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("账号能交易吗", "关于“账号可以买卖或交易吗？能卖号吗？”，帮助中心是这样说的：\n\n不可以。"),
        ("能不能卖号", "关于“账号可以买卖或交易吗？能卖号吗？”，帮助中心是这样说的：\n\n不可以。"),
        (
            "can I sell my account?",
            "Here's what our help center says about **Can I sell, buy or trade my account?**:\n\nNo.",
        ),
        # The rename first, not the server transfer for its 角色 and 可以.
        ("角色名可以改吗", "关于“怎么修改角色名？”，帮助中心是这样说的：\n\n使用改名卡"),
    ],
)
async def test_selling_an_account_or_renaming_a_character_is_answered_not_taken_for_a_refund(visitor, question, says):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert answer.text.startswith(says)
    assert answer.form is None  # no order number asked for


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("event reward not received", "**Reward not received?**\nEvent rewards are sent by **mail within 24 hours**"),
        ("reward not received", "**Reward not received?**\nEvent rewards are sent by **mail within 24 hours**"),
        ("奖励没到账", "**活动奖励没收到**\n活动奖励会在 **24 小时内通过邮件** 发放"),
    ],
)
async def test_a_missing_event_reward_gets_where_rewards_arrive_not_a_request_for_an_order_number(
    visitor, question, says
):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert says in answer.text
    assert answer.end["sources"][0]["title"] in ("Current event: Starfall Festival", "当前活动：星落庆典")
    assert answer.form is None and "order number" not in answer.text and "订单号" not in answer.text


@pytest.mark.parametrize(
    ("question", "says"),
    [
        ("怎么转服", "转服功能在每月第一周开放。角色需要达到 40 级"),
        ("我想转服", "每次转服需要 1500 星晶"),
        ("can I move my character to another server?", "Server transfers open in the first week of every month."),
        ("how do I switch servers", "A transfer costs 1,500 Star Crystals"),
        # What it costs: not the contact FAQ's "客服电话是多少", nor the rename FAQ's "change".
        ("转服要多少钱", "每次转服需要 1500 星晶"),
        ("转服收费吗", "每次转服需要 1500 星晶"),
        ("转区多少钱", "每次转服需要 1500 星晶"),
        ("how much to change servers", "A transfer costs 1,500 Star Crystals"),
        ("what's the fee to move servers?", "A transfer costs 1,500 Star Crystals"),
    ],
)
async def test_a_server_transfer_is_answered_from_the_help_center_not_handed_to_a_person(visitor, question, says):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert says in answer.text, answer.text
    assert answer.end["sources"][0]["title"] in (
        "Can I transfer my character to another server?",
        "可以把角色转到其他服务器吗？",
    )
    conversation = await conversation_of(visitor)
    assert conversation.state == Conversation.State.BOT


@pytest.mark.parametrize(
    ("question", "says", "person"),
    [
        ("客服电话是多少", "我们没有电话客服", "转人工客服"),
        ("你们有客服邮箱吗", "我们没有电话客服", "转人工客服"),
        ("what's your support phone number?", "We have no phone line", "Talk to a human"),
        ("how can I contact you?", "We have no phone line", "Talk to a human"),
        # Whose phone: a person's, which is no request for one.
        ("有没有人工客服的电话", "我们没有电话客服", "转人工客服"),
        ("有人工客服电话吗", "我们没有电话客服", "转人工客服"),
        ("do you have a phone number for a real person?", "We have no phone line", "Talk to a human"),
        ("is there a number I can call to talk to a human?", "We have no phone line", "Talk to a human"),
    ],
)
async def test_asked_for_a_phone_number_the_bot_says_how_to_reach_support_and_offers_a_person(
    visitor, question, says, person
):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert says in answer.text
    assert [option["label"] for option in answer.quick_replies] == [person]
    # A question, not a request: the chat stays with the bot until the player taps for a person.
    conversation = await conversation_of(visitor)
    assert conversation.state == Conversation.State.BOT
    assert not (await answer.meta()).get("escalate")


@pytest.mark.parametrize(
    ("question", "article", "says"),
    [
        ("封号申诉要多久", "账号被封禁（封号）怎么申诉", "5 个工作日"),
        ("申诉一般几天有结果", "账号被封禁（封号）怎么申诉", "5 个工作日"),
        ("怎么申诉封号", "账号被封禁（封号）怎么申诉", "support.starfall.example/appeal"),
        ("how long does a ban appeal take?", "Account banned or suspended: how to appeal", "appeal form"),
        ("what's the appeal process for a ban", "Account banned or suspended: how to appeal", "appeal"),
    ],
)
async def test_a_question_about_the_appeal_gets_the_help_center_not_the_ban_lookup(
    lin, game_backend, question, article, says
):
    async with Chat(lin) as chat:
        answer = await chat.say(question)

    assert answer.end["sources"][0]["title"] == article, answer.text
    assert says in answer.text, answer.text
    assert game_backend.requests == []  # Lin is not banned: "no ban record" would not answer it


@pytest.mark.parametrize("question", ["我的号为什么被封了", "is my account banned?", "why am I banned"])
async def test_a_question_about_the_players_own_ban_is_looked_up(lin, game_backend, question):
    async with Chat(lin) as chat:
        await chat.say(question)

    assert [r["path"] for r in game_backend.requests] == ["/api/players/10086/ban"]


@pytest.mark.parametrize(
    ("question", "faq"),
    [
        ("how do i change my name", "How do I change my character name?"),
        ("我想改个名字", "怎么修改角色名？"),
        ("改名要多少钱", "怎么修改角色名？"),
        ("how much is a name change", "How do I change my character name?"),
    ],
)
async def test_changing_ones_name_is_answered_with_the_rename_faq(visitor, question, faq):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    assert (await answer.meta())["intent"]["name"] == "rename"
    assert answer.end["sources"][0]["title"] == faq
    assert "Password" not in answer.text and "密码" not in answer.text


@pytest.mark.parametrize(
    ("question", "then"),
    [
        ("my top-up didn't arrive", "my top-up didn't arrive"),
        ("充值没到账", "我都问了三遍了"),
        ("how do I appeal a ban", "are you a bot?"),
        ("my account got hacked", "垃圾游戏"),
    ],
)
async def test_a_reply_in_the_bots_own_words_lists_no_sources_it_never_quoted(visitor, question, then):
    async with Chat(visitor) as chat:
        await chat.say(question)
        answer = await chat.say(then)

    assert (await answer.meta())["reply"] in {"repeated", "who_answers", "vented", "awaiting_facts"}
    assert "sources" not in answer.end  # nor after a reload: the stored answer has none


@pytest.mark.parametrize(
    ("question", "first_step"),
    [
        ("My top-up did not arrive", "1. Fully close the game and log in again."),
        ("top up not received", "1. Fully close the game and log in again."),
        ("I paid but got no crystals", "1. Fully close the game and log in again."),
        ("我的充值没到账", "1. 完全退出游戏后重新登录"),
    ],
)
async def test_a_top_up_that_did_not_arrive_is_answered_with_the_checklist_in_either_language(
    visitor, question, first_step
):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    # Not only "this article explains what to check": the checks themselves.
    assert first_step in answer.text, answer.text
    assert "Purchase History" in answer.text or "充值记录" in answer.text
    # To its last step, though the English article runs 2.6 times as long.
    assert "5. Check the payment with your store" in answer.text or "5. 到支付平台核对付款" in answer.text
    assert not re.search(r"^\d+\.\s*(\[1\])?$", answer.text, re.MULTILINE)  # no step cut to its number


@pytest.mark.parametrize(
    ("message", "sorry", "offered"),
    [
        ("垃圾游戏，怎么在沙漠里养龙", "非常抱歉给你带来这么糟糕的体验", "点下面的“转人工客服”"),
        ("this game is trash, how do I breed dragons???", "I'm really sorry about this", 'Tap "Talk to a human"'),
    ],
)
async def test_an_angry_question_the_help_center_cannot_answer_gets_the_apology_and_a_person(
    visitor, message, sorry, offered
):
    async with Chat(visitor) as chat:
        answer = await chat.say(message)

    # Not "sorry, let's sort it out right now:" and then "I couldn't find anything, try other words".
    assert answer.text.startswith(sorry), answer.text
    assert offered in answer.text
    assert "couldn't find anything" not in answer.text and "换个说法" not in answer.text
    assert [o["intent"] for o in answer.quick_replies] == ["human"]
    assert (await answer.meta())["knowledge_gap"] is True  # the question in it is one all the same


@pytest.mark.parametrize("rant", ["你们这什么垃圾游戏！！！", "what a garbage game!!!"])
async def test_a_rant_is_never_a_knowledge_gap(visitor, settings, rant):
    settings.KNOWLEDGE_GAP_BATCH_SECONDS = 0.1
    async with Chat(visitor) as chat:
        answer = await chat.say(rant)
        await chat.say("how do I breed dragons in the desert zone")  # a gap, to know gaps were recorded

    from analytics.models import KnowledgeGap

    assert "knowledge_gap" not in await answer.meta()
    for _ in range(100):
        if await KnowledgeGap.objects.aexists():
            break
        await asyncio.sleep(0.05)
    assert [gap.question async for gap in KnowledgeGap.objects.all()] == ["how do I breed dragons in the desert zone"]


async def test_a_quest_that_will_not_complete_is_answered_with_the_bug_report_it_asks_details_for(visitor):
    async with Chat(visitor) as chat:
        answer = await chat.say("my quest won't complete")

    # The article says how to report it, as the form under it asks for the bug's details: not the
    # festival's "How to take part" beside a form for a bug.
    assert answer.end["sources"][0]["title"] == "Reporting a bug, crash or error", answer.end["sources"]
    assert "Festival" not in answer.text


@pytest.mark.parametrize(
    ("question", "article", "steps"),
    [
        # The English page's own suggested question ("Account recovery"), and the Chinese one's.
        (
            "How do I recover my account?",
            "Password reset, two-step verification and phishing",
            "**Account Recovery** form",
        ),
        (
            "I want to get my account back",
            "Password reset, two-step verification and phishing",
            "**Account Recovery** form",
        ),
        ("账号丢失了怎么找回？", "忘记密码、二次验证和防诈骗", "**忘记密码**"),
    ],
)
async def test_a_player_who_asks_how_to_recover_their_account_reads_how(visitor, question, article, steps):
    async with Chat(visitor) as chat:
        answer = await chat.say(question)

    # Not the FAQ on trading accounts for its "the original owner can recover it".
    assert answer.end["sources"][0]["title"] == article, answer.end["sources"]
    assert steps in answer.text, answer.text
    assert "Selling, buying" not in answer.text
