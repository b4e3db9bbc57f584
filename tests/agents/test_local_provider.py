"""The offline provider: agents/providers/local.py."""

from __future__ import annotations

import asyncio

import pytest

from agents.knowledge.language import detect_language
from agents.providers import ChatMessage, ChatRequest, Delta, Finish, Passage, get_provider
from agents.providers.local import MAIN_BUDGET, LocalProvider

REFUND = Passage(
    source_id="doc-7",
    title="Refund policy",
    text="## Our refund policy\n\n- Unused purchases can be refunded within **14 days**.\n- Spent crystals are not.",
    score=9.1,
)
RECHARGE = Passage(
    source_id="doc-3",
    title="Recharge not received",
    text="Most top-ups arrive within 5 minutes. Restart the game and check your mailbox.",
    score=4.2,
)
RENAME_ZH = Passage(
    source_id="doc-12",
    title="怎么修改角色名？",
    text="怎么修改角色名？\n\n使用改名卡：商城 → 道具，300 星晶。每 7 天只能改名一次。",
    score=11.6,
)


def request(question: str, passages: list[Passage], *, language: str = "en") -> ChatRequest:
    return ChatRequest(system="", messages=[ChatMessage("user", question)], passages=passages, language=language)


async def collect(provider, chat_request: ChatRequest) -> tuple[str, list, Finish]:
    items = [item async for item in provider.stream(chat_request)]
    deltas = [item for item in items if isinstance(item, Delta)]
    assert isinstance(items[-1], Finish) and all(isinstance(item, Delta) for item in items[:-1])
    return "".join(delta.text for delta in deltas), deltas, items[-1]


def test_it_is_the_provider_named_local():
    assert isinstance(get_provider("local"), LocalProvider)
    assert LocalProvider.name == "local"


async def test_it_streams_the_answer_in_small_deltas_then_finishes(settings):
    settings.LOCAL_PROVIDER_CHUNK_CHARS = 6

    text, deltas, finish = await collect(LocalProvider(), request("refund?", [REFUND]))

    assert len(deltas) > 1
    assert all(len(delta.text) <= 6 for delta in deltas)
    assert finish.finish_reason == "normal"
    assert finish.completion_tokens > 0 and finish.prompt_tokens > 0
    assert text.startswith("Here's what our help center says about **Refund policy**:")


async def test_it_cites_each_passage_by_its_position():
    text, _, _ = await collect(LocalProvider(), request("refund?", [REFUND, RECHARGE]))

    assert "Unused purchases can be refunded within **14 days**." in text
    assert text.index("[1]") < text.index("[2]")
    assert "- **Recharge not received**: Most top-ups arrive within 5 minutes." in text
    assert "[3]" not in text


async def test_it_answers_in_chinese_without_repeating_the_question():
    text, _, _ = await collect(LocalProvider(), request("怎么改名", [RENAME_ZH], language="zh-hans"))

    assert text.startswith("关于“怎么修改角色名？”，帮助中心是这样说的：")
    assert "使用改名卡：商城 → 道具，300 星晶。每 7 天只能改名一次。 [1]" in text
    assert text.count("怎么修改角色名") == 1
    assert "人工客服" in text


@pytest.mark.parametrize(
    ("language", "question", "expected"),
    [
        ("en", "what's the weather on Mars", "Sorry, I couldn't find anything about this in our help center"),
        ("zh-hans", "火星上天气怎么样", "抱歉，我在帮助中心里没有找到和这个问题相关的资料"),
    ],
)
async def test_with_no_passages_it_says_it_does_not_know_and_offers_a_human(language, question, expected):
    text, _, _ = await collect(LocalProvider(), request(question, [], language=language))

    assert text.startswith(expected)
    assert ("human agent" if language == "en" else "人工客服") in text
    assert "[1]" not in text


async def test_it_answers_in_the_language_of_the_question_when_the_request_has_none():
    text, _, _ = await collect(LocalProvider(), request("How do I get a refund?", [], language=""))

    assert text.startswith("Sorry")


WHAT_TO_SEND = Passage(
    source_id="doc-41",
    title="Lost or missing items and item recovery",
    text="## What to send\n\nContact support (Settings → Help Center → Contact Support) with:\n\n"
    "- UID, server and character name;\n- the item's name and enhancement level.\n\n"
    "Recovery takes **3 to 5 business days**. Restored items arrive in your mailbox.",
    score=3.0,
)
CANNOT_RESTORE = Passage(
    source_id="doc-41",
    title="Lost or missing items and item recovery",
    text="## What we cannot restore\n\n- items you traded to another player yourself;\n- consumables you used.",
    score=3.0,
)


APPEAL_RESULT = Passage(
    source_id="doc-41",
    title="Lost or missing items and item recovery",
    text="## Appeal results\n\n- We reply within **5 business days**.\n- A successful appeal lifts the penalty.\n\n"
    "Creating new accounts to get around a ban makes the penalty longer.",
    score=3.0,
)


@pytest.mark.parametrize(
    ("related", "summary"),
    [
        (WHAT_TO_SEND, "Recovery takes 3 to 5 business days. Restored items arrive in your mailbox."),
        (CANNOT_RESTORE, "What we cannot restore"),  # all list: its heading says what it is about
        # The list opens the section: the line after it is an aside, not what it is about.
        (APPEAL_RESULT, "Appeal results"),
    ],
)
async def test_a_related_source_is_summed_up_in_prose_not_by_a_list_item_out_of_its_list(related, summary):
    text, _, _ = await collect(LocalProvider(), request("refund?", [REFUND, related]))

    assert f"- **Lost or missing items and item recovery**: {summary} [2]" in text
    assert "UID, server and character name;" not in text and "items you traded" not in text
    assert "around a ban" not in text


async def test_an_excerpt_that_must_be_cut_ends_between_words():
    long_sentence = Passage(
        source_id="doc-9",
        title="Server transfers",
        text="Server transfers open in the first week of every month " + "and need a character of level forty " * 30,
        score=5.0,
    )

    text, _, _ = await collect(LocalProvider(), request("transfer?", [long_sentence, long_sentence]))

    excerpt = text.split("\n\n")[1]
    summary = text.split("\n")[-3]
    words = set(long_sentence.text.split())
    for cut in (excerpt.removesuffix(" [1]"), summary.removesuffix(" [2]")):
        assert cut.endswith("…") and cut.removesuffix("…").rsplit(" ", 1)[-1] in words


async def test_a_chinese_summary_is_cut_at_a_comma_not_on_a_dangling_arrow():
    appeal = Passage(
        source_id="doc-4",
        title="账号被封禁（封号）怎么申诉",
        text="## 如何申诉解封\n\n请在受到处罚后 **30 天内** 申诉：打开官网申诉页面 support.starfall.example/appeal，"
        "或在登录界面点击 **客服中心 → 封号申诉**（封禁期间也可以使用）。请提供：\n\n1. UID、服务器和角色名；",
        score=4.0,
    )

    text, _, _ = await collect(LocalProvider(), request("账号被盗", [RENAME_ZH, appeal], language="zh-hans"))

    summary = "请在受到处罚后 30 天内 申诉：打开官网申诉页面 support.starfall.example/appeal…"
    assert f"- **账号被封禁（封号）怎么申诉**：{summary} [2]" in text


async def test_a_title_echo_is_dropped_only_as_whole_words():
    passage = Passage(source_id="doc-2", title="Refund", text="Refunds take 5 to 10 business days.", score=2.0)

    text, _, _ = await collect(LocalProvider(), request("refund?", [passage]))

    assert "Refunds take 5 to 10 business days. [1]" in text


async def test_it_leaves_the_event_loop_free_while_it_streams(settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.01
    settings.LOCAL_PROVIDER_CHUNK_CHARS = 20
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    try:
        _, deltas, _ = await collect(LocalProvider(), request("refund?", [REFUND, RECHARGE]))
    finally:
        task.cancel()

    assert ticks >= len(deltas)


CHECKLIST = {
    "en": (
        "Recharge not received",
        "Most top-ups arrive by themselves within minutes. ",
        "## Check these first",
        [f"{n}. Check place number {n}: the mailbox, the server, the purchase history." for n in range(1, 6)],
        "## Still missing after 2 hours?\n\nContact support.",
    ),
    "zh-hans": (
        "充值未到账",
        "大部分充值会在几分钟内自动到账。",
        "## 请先自查",
        [f"{n}. 检查第 {n} 处：邮箱、服务器和充值记录。" for n in range(1, 6)],
        "## 两小时后仍未到账？\n\n请联系客服。",
    ),
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
async def test_a_checklist_the_answer_reaches_is_quoted_to_its_last_step(language):
    title, sentence, heading, steps, after = CHECKLIST[language]
    # An introduction that leaves room for the checklist's first steps only.
    introduction = sentence * (MAIN_BUDGET[detect_language(sentence)] // len(sentence) - 2)
    passage = Passage(
        source_id="doc-3", title=title, text="\n".join([introduction, "", heading, *steps, "", after]), score=5.0
    )

    text, _, _ = await collect(LocalProvider(), request("top-up", [passage], language=language))

    for step in steps:
        assert step in text, text
    assert after.split("\n")[-1] not in text  # the next section is not quoted
