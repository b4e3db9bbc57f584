"""Facts taken from what the player wrote and checked; how upset the player sounds."""

from __future__ import annotations

import pytest

from agents.catalogue import get_catalogue
from agents.facts import bare_value, check_form_values, extract, form_field, lone_value, unknown_choice, validate
from agents.sentiment import score_text, should_escalate

pytestmark = pytest.mark.django_db


@pytest.fixture
def facts(demo_brain):
    return get_catalogue().facts


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("我的订单号是sl2025061201，昨天买的", "order_no", "SL2025061201"),
        ("order ＳＬ２０２５０６１２０２ please", "order_no", "SL2025061202"),
        # The formats the help article (demo_kb/recharge.*.md) tells players to look for.
        ("Google Play says GPA.3372-1234-5678-12345.", "order_no", "GPA.3372-1234-5678-12345"),
        ("订单号 gpa.3372-1234-5678-12345..0 是续订的", "order_no", "GPA.3372-1234-5678-12345..0"),
        ("Apple's receipt: order ID mt5k9a7xz2", "order_no", "MT5K9A7XZ2"),
        ("官网订单SF-202506120001没到账", "order_no", "SF-202506120001"),
        ("我在三服，用的安卓手机", "server", "S3"),
        ("I play on s2 with my iphone", "device", "iOS"),
        ("玩家ID：10086", "player_id", "10086"),
        # A player id in the words players give it, with or without "is".
        ("my uid is 55555555", "player_id", "55555555"),
        ("uid: 55555555", "player_id", "55555555"),
        ("My player ID is 55555555, server S2", "player_id", "55555555"),
        ("my id's 55555555", "player_id", "55555555"),
        ("my ID number is #55555555", "player_id", "55555555"),
        ("我的ID是55555555", "player_id", "55555555"),
        ("角色ID 55555555", "player_id", "55555555"),
        ("我的uid是 55555555", "player_id", "55555555"),
        ("玩家ID号码：55555555", "player_id", "55555555"),
        ("bought it 2025-06-12 20:15", "purchase_time", "2025-06-12 20:15"),
        ("I lost my Frostfang Sword", "item_name", "Frostfang Sword"),
        ("i accidentally sold my frostfang sword to a vendor yesterday", "item_name", "frostfang sword"),
        ("I can't find my Frostfang Sword anywhere", "item_name", "Frostfang Sword"),
        ("my Comet Stag mount is gone after the maintenance", "item_name", "Comet Stag mount"),
        ("my Frostfang Sword +12 disappeared from my bag", "item_name", "Frostfang Sword +12"),
        ("我的霜牙之剑丢了", "item_name", "霜牙之剑"),
        ("我的【霜牙之剑】突然不见了，怎么办", "item_name", "霜牙之剑"),
        ("不小心把霜牙之剑分解了", "item_name", "霜牙之剑"),
        ("I lost my Frostfang Sword I think", "item_name", "Frostfang Sword"),
    ],
)
def test_a_fact_is_found_inside_a_message(facts, text, name, value):
    assert extract(facts[name], text) == value


@pytest.mark.parametrize(
    "text",
    [
        # A word for any item names none: the bot still asks which one.
        "I lost my gear",
        "all my items are gone",
        "my account was hacked and all my items are gone",
        "我的装备不见了",
        "我的装备和坐骑都不见了",
        "不小心把装备分解了",
        # Named nowhere, or not in the shapes that name a lost item.
        "how do I recover lost items",
        "how do I get back items I lost",
        "I lost my password",
        "我在三服，装备不见了",
        "the Frostfang Sword is the best weapon in the game",
    ],
)
def test_an_item_is_not_taken_from_a_message_that_names_none(facts, text):
    assert extract(facts["item_name"], text) is None


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("Frostfang Sword", "Frostfang Sword"),
        ("霜牙之剑", "霜牙之剑"),
        # Not an item: a question, a sentence, a reply that names nothing, any item at all.
        ("how do I get it back", None),
        ("能找回来吗", None),
        # 呢 asks after words that ask or go on from the question before: "where is my sword?"
        ("那iOS呢", None),
        ("还有别的办法呢", None),
        ("你们几点上班呢", None),
        ("我的剑呢", None),
        ("电脑呢？", None),
        ("ok", None),
        ("不知道", None),
        # That the answer did not help: the item is still to be named.
        ("试过了，还是不行", None),
        ("还是没有", None),
        ("still doesn't work", None),
        ("my gear", None),
        ("it was the sword I got from the festival last week I think", None),
    ],
)
def test_a_whole_reply_is_the_item_only_when_it_reads_as_one(facts, reply, value):
    assert bare_value(facts["item_name"], reply) == value


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("霜牙之剑吧", "霜牙之剑"),
        ("霜牙之剑的吧", "霜牙之剑"),
        ("霜牙之剑啊！", "霜牙之剑"),
        ("彗星角鹿坐骑呀", "彗星角鹿坐骑"),
        ("霜牙之剑哦", "霜牙之剑"),
        # 呢 after a name on its own rounds the reply off, as 吧 does: it asks nothing.
        ("霜牙之剑呢", "霜牙之剑"),
        ("应该是霜牙之剑吧", "霜牙之剑"),
        ("Frostfang Sword I think", "Frostfang Sword"),
        ("maybe Frostfang Sword", "Frostfang Sword"),
        ("Comet Stag mount, maybe.", "Comet Stag mount"),
        ("I think it's the Frostfang Sword", "the Frostfang Sword"),
        # The same characters inside a name are its own: only the ends are trimmed.
        ("吧台长椅", "吧台长椅"),
        ("哦哈哟之冠", "哦哈哟之冠"),
        ("呀呀的啊哦之牙", "呀呀的啊哦之牙"),
        # Nothing left but a word for any item: still no item.
        ("装备吧", None),
    ],
)
def test_an_item_is_stored_without_the_particles_and_hedges_around_it(facts, reply, value):
    assert bare_value(facts["item_name"], reply) == value


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("it's 55555555 on server s7 I think", "55555555"),
        ("应该是55555555，在二服吧", "55555555"),
        ("#55555555.", "55555555"),
        ("I waited 30 minutes", None),
        ("I paid 12.99", None),
    ],
)
def test_asked_for_the_player_id_a_number_standing_alone_is_it(facts, reply, value):
    assert lone_value(facts["player_id"], reply) == value


def test_a_fact_that_takes_any_words_takes_nothing_standing_alone(facts):
    assert lone_value(facts["item_name"], "it's the +12 one I think") is None


def test_a_fact_is_not_found_where_it_is_not(facts):
    assert extract(facts["order_no"], "my order number is 12345") is None
    # The "id" of "paid" is no label, and a number with more digits than an id is another number.
    assert extract(facts["player_id"], "I paid 648000 yesterday") is None
    assert extract(facts["player_id"], "uid 1234567890123") is None
    assert extract(facts["order_no"], "a mysterious charge, order SF-2025") is None  # a word, a short number
    assert extract(facts["server"], "the class is OP") is None
    assert extract(facts["device"], "pcs of gear") is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("s7", "s7"),
        ("it's on server S12", "S12"),
        ("I play on server 7", "server 7"),
        ("7服", "7服"),
        ("我在七区", "七区"),
        ("十二服", "十二服"),
    ],
)
def test_a_server_spelt_like_ours_but_none_of_them_is_no_server(facts, text, named):
    assert extract(facts["server"], text) is None
    assert unknown_choice(facts["server"], text) == named


@pytest.mark.parametrize(
    ("text", "named"),
    [("samsung s10", "samsung s10"), ("Samsung Galaxy S3", "Samsung Galaxy S3"), ("我用的三星S10", "三星S10")],
)
def test_a_phone_named_like_a_server_is_no_server_but_a_phone(facts, text, named):
    assert extract(facts["server"], text) is None  # "samsung s3" is not S3
    assert unknown_choice(facts["server"], text) == named
    assert extract(facts["device"], text) == "Android"


@pytest.mark.parametrize(
    ("text", "server"),
    [("S2", "S2"), ("it's server 2", "S2"), ("应该是二服吧", "S2"), ("12服", None), ("my iphone 7 crashes", None)],
)
def test_a_real_server_or_none_at_all_is_no_unknown_server(facts, text, server):
    # "12服" is not "2服" with a 1 before it.
    assert extract(facts["server"], text) == server
    assert unknown_choice(facts["server"], text) == (None if server or "服" not in text else text)
    assert unknown_choice(facts["device"], "iphone 12") is None  # a device's choices have no numbers


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("S3", {"server": "S3"}),
        ("I'm on server 3 I think", {"server": "S3"}),
        ("我在三服", {"server": "S3"}),
        ("10086", {"player_id": "10086"}),
        ("SL2025061201", {"order_no": "SL2025061201"}),
        ("iPhone", {"device": "iOS"}),
        # Not written as a server, two of them, a phone, a word that is no code.
        ("in the frost caves", {}),
        ("I moved from S1 to S3", {}),
        ("my samsung s3 crashes", {}),
        ("today", {}),
        ("ok", {}),
    ],
)
def test_a_reply_to_a_person_keeps_only_the_values_that_say_what_they_are(facts, text, found):
    """What the player tells an agent is read without her question (pipeline/facts.py)."""
    from agents.pipeline.facts import standing_alone

    assert standing_alone(text) == found


def test_a_value_is_checked_and_put_in_its_canonical_form(facts):
    assert validate(facts["order_no"], " sl2025061201 ") == "SL2025061201"
    assert validate(facts["order_no"], "SL123") is None
    for typed in ("GPA.1234-5678-9012-34567", "SF-123456789012", "MT5K9A7XZ2", "SL2025061201"):
        assert validate(facts["order_no"], typed) == typed


def test_the_order_forms_example_is_no_real_order(facts):
    """The placeholder shows the format; a demo order's number there reads like a real one."""
    from agents.demo_backend import PLAYERS

    example = facts["order_no"].placeholder
    assert validate(facts["order_no"], example) == example
    assert all(example not in player["orders"] for player in PLAYERS.values())
    assert validate(facts["server"], "晨曦") == "S1"
    assert validate(facts["server"], "S9") is None


def test_the_demo_facts_fit_their_columns():
    """PostgreSQL refuses a longer value than the column holds (the migrations store these rows)."""
    from agents.demo_brain import FACTS
    from agents.models import Fact

    for row in FACTS:
        for name, value in row.items():
            limit = Fact._meta.get_field(name).max_length
            assert limit is None or len(value) <= limit, (row["name"], name)


def test_a_form_names_the_fields_to_correct(facts):
    valid, errors = check_form_values([facts["order_no"], facts["server"]], {"order_no": "SL12", "server": "s2"})
    assert valid == {"server": "S2"}
    assert errors == {"order_no": "invalid"}


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("充值还没到账", "calm"),
        ("thanks, that helped", "calm"),
        ("怎么还没到账，有点着急", "upset"),
        ("i'm annoyed, where are my crystals", "upset"),
        # What happened to them, not anger at us: help, not a handoff on the spot.
        ("someone stole my account", "upset"),
        ("你们这破游戏太垃圾了，骗钱！！", "angry"),
        ("this is a SCAM, I'll do a chargeback", "angry"),
        ("I'll report you to the app store and leave 1 star", "angry"),
        ("giving this a one-star review", "angry"),
        # Shouting says it even without a word of the lexicon.
        ("WHERE IS MY TOP UP???", "upset"),
        ("还没到！！！", "upset"),
        ("this is bullshit, I want a refund NOW", "upset"),
        ("F*** this", "upset"),
        ("this is sh*t", "upset"),
        ("I need 5* gear", "calm"),
        # Stars and reports of the game itself.
        ("how do I get 1 star crystals", "calm"),
        ("I have 1 star on level 3, how to get 3 stars?", "calm"),
        ("how do I report a cheater", "calm"),
        ("THANK YOU SO MUCH!!", "calm"),
        # Frustration, however strongly put, is soothed and helped, not handed over at once.
        ("THIS IS RIDICULOUS, still no crystals", "upset"),
        ("the game crashes every time I open the shop, this is ridiculous", "upset"),
        ("you guys are useless", "upset"),
        ("每次打开商城就闪退，太离谱了", "upset"),
        ("垃圾游戏", "upset"),
        # A player who says they asked before is upset, in however calm words.
        ("I asked for a refund 3 times already", "upset"),
        ("I've asked THREE TIMES", "upset"),
        ("nothing. again.", "upset"),
        ("for the third time, where is my top-up", "upset"),
        ("我都问了三遍了", "upset"),
        ("第三次问了，还没到账", "upset"),
        ("我已经说了好几遍了", "upset"),
        # ... but doing a thing several times in the game is no complaint.
        ("I refined my sword 3 times", "calm"),
        ("how many times can I reroll?", "calm"),
        ("I logged in again", "calm"),
        ("我刷了三次副本", "calm"),
        # Asking someone else, or doing a thing in the game again, is no repeating to support ...
        ("I asked my friend 2 times and he doesn't know how to finish the shop npc quest", "calm"),
        ("my friend asked 3 times in world chat", "calm"),
        ("I told my guild leader three times", "calm"),
        ("I've already asked my brother", "calm"),
        ("I'm doing the quest for the second time", "calm"),
        ("I died to the boss over and over", "calm"),
        ("我问朋友问了三遍", "calm"),
        ("跟会长说了好几次还是不会", "calm"),
        # ... while asking support again is, however it is put.
        ("I've asked twice already", "upset"),
        ("I'm asking for the third time", "upset"),
        ("I told you 3 times", "upset"),
        ("I reported this player 3 times", "upset"),
        ("问了你们三遍了", "upset"),
        ("我跟客服说了三次了", "upset"),
        # Impatience is upset; "forever", "hurry" and "slow" in the game are not.
        ("this is taking forever", "upset"),
        ("hurry up", "upset"),
        ("why is this taking so long", "upset"),
        ("好慢啊", "upset"),
        ("等了半天了", "upset"),
        ("快点", "upset"),
        ("能不能快点啊", "upset"),
        ("can you hurry up", "upset"),
        ("come on!!", "upset"),
        ("is the mount forever?", "calm"),
        ("how do I get the hurry buff", "calm"),
        ("the slow debuff is bugged", "calm"),
        ("怎么快点升级", "calm"),
        ("快点升级的方法", "calm"),
        ("come on, how do I get the mount", "calm"),
    ],
)
def test_sentiment_levels(text, level):
    assert score_text(text).level == level


def test_anger_escalates_at_once_and_being_upset_after_three_messages():
    assert should_escalate(score_text("什么垃圾客服，骗子"), [])
    upset = score_text("怎么还没到账，有点着急")
    assert not should_escalate(upset, [])
    assert not should_escalate(upset, [0.2, -0.4])
    assert should_escalate(upset, [-0.4, -0.5])


@pytest.mark.parametrize(
    "text",
    [
        "the game crashes every time I open the shop, this is ridiculous",
        "THIS GAME IS GARBAGE, IT CRASHED AGAIN!!",
        "每次打开商城就闪退，太离谱了",
        "垃圾游戏，又闪退了",
    ],
)
def test_frustration_is_helped_first_and_handed_over_when_it_lasts(text):
    frustrated = score_text(text)
    assert not should_escalate(frustrated, [])  # a first outburst: soothe and help
    assert not should_escalate(frustrated, [-0.5, 0.0, 0.0, 0.2])  # upset long ago, calm since
    # Still this frustrated after an upset message and the bot's help: a person takes over.
    assert should_escalate(frustrated, [-0.5, 0.0])


@pytest.mark.parametrize(
    ("name", "inputmode"), [("player_id", "numeric"), ("order_no", None), ("purchase_time", None), ("item_name", None)]
)
def test_a_form_field_for_a_number_asks_a_phone_for_its_number_pad(facts, name, inputmode):
    """A player id is digits only; an order number ("SL…", "GPA.…") or a date is not."""
    assert form_field(facts[name], "en").get("inputmode") == inputmode
