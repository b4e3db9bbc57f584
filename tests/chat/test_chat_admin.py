"""Staff reading a chat in the admin see words, not codes: the intent and facts as the bot's
admin names them, the state and handoff reason as the dashboard does, in their language.
The raw values stay on the page, read-only, folded away under "Raw data"."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.utils import translation

from agents.models import Fact, Intent
from chat.models import Conversation, ConversationEvent, Message
from chat.services import message_append

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in Chinese leaves Chinese active in this thread (LocaleMiddleware does not
    reset it): the tests after these would read their words in Chinese."""
    yield
    translation.deactivate()


@pytest.fixture
def reader(roles, mia) -> Client:
    client = Client()
    client.force_login(mia)
    return client


@pytest.fixture
def chat(lin, alice) -> Conversation:
    """Lin's top-up went missing; upset, she waits for a human."""
    Fact.objects.update_or_create(name="order_no", defaults={"label_en": "Order number", "label_zh": "订单号"})
    Intent.objects.update_or_create(
        name="recharge_not_arrived", defaults={"label_en": "Top-up not received", "label_zh": "充值未到账"}
    )
    chat = Conversation.objects.create(
        player=lin,
        language="zh-hans",
        state=Conversation.State.WAITING,
        handoff_reason="sentiment",
        intent="recharge_not_arrived",
        facts={"order_no": "SL2025061201"},
    )
    ConversationEvent.objects.create(conversation=chat, kind="escalated", reason="sentiment")
    message_append(
        conversation_id=chat.pk,
        sender="bot",
        text="Your top-up is on its way.",
        meta={
            "intent": {"name": "recharge_not_arrived", "confidence": 0.78, "source": "classifier"},
            "facts": {"values": {"order_no": "SL2025061201"}, "missing": []},
            "sources": [{"n": 1, "title": "Top-ups that did not arrive", "source_id": "doc-44"}],
            "tool_calls": [{"tool": "order_status", "ok": True}],
        },
    )
    return chat


def seen(page) -> tuple[str, str]:
    """The page's words as staff read them: what shows, and what "Raw data" folds away."""
    content = page.content.decode()
    content = content[content.index('id="content"') :]
    folded = re.findall(r"<details>(.*?)</details>", content, re.S)
    shown = re.sub(r"<details>.*?</details>", "", content, flags=re.S)

    def words(markup: str) -> str:
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())

    return words(shown), " ".join(words(part) for part in folded)


def test_a_conversation_shows_its_intent_facts_state_and_reason_in_words_with_the_codes_folded_away(reader, chat):
    shown, raw = seen(reader.get(f"/admin/chat/conversation/{chat.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"))

    assert f"#{chat.pk} Lin (waiting for a human)" in shown
    assert "Intent: Top-up not received" in shown
    assert "Facts: Order number SL2025061201" in shown
    assert "Handoff reason: the player is upset" in shown
    assert "Language: Simplified Chinese" in shown
    assert "escalated to a human" in shown  # the history
    for code in ("recharge_not_arrived", "order_no", "zh-hans"):
        assert code not in shown
    assert raw.startswith("Raw data")  # the heading of the folded section
    assert 'Intent: recharge_not_arrived Facts: { "order_no": "SL2025061201" }' in raw
    assert "Handoff reason: sentiment" in raw


def test_the_list_shows_who_holds_a_chat_under_its_state_and_when_it_changed(reader, chat, alice):
    """The list lost its holder column to fit an office screen (tests/e2e/test_admin_browser.py):
    the holder is under the state, the chat's number beside its player."""
    from chat import handoff

    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    shown, _raw = seen(reader.get("/admin/chat/conversation/", HTTP_ACCEPT_LANGUAGE="en"))

    assert f"#{chat.pk} Lin with a human Alice (alice) the player is upset Top-up not received" in shown
    assert "open live" in shown


def test_the_list_names_intents_and_handoff_reasons_in_the_readers_language(reader, chat):
    english, _raw = seen(reader.get("/admin/chat/conversation/", HTTP_ACCEPT_LANGUAGE="en"))
    chinese, _raw = seen(reader.get("/admin/chat/conversation/", HTTP_ACCEPT_LANGUAGE="zh-hans"))

    assert "waiting for a human the player is upset Top-up not received" in english
    assert "等待人工 玩家情绪激动 充值未到账" in chinese
    assert "By handoff reason All the player is upset" in english  # the filter, too
    for page in (english, chinese):
        assert "recharge_not_arrived" not in page and "sentiment" not in page


def test_a_bot_answer_says_what_it_understood_in_words_and_keeps_its_meta_folded_away(reader, chat):
    answer = Message.objects.get(conversation=chat, sender="bot")
    shown, raw = seen(reader.get(f"/admin/chat/message/{answer.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"))

    assert "意图 充值未到账（把握 78%）" in shown
    assert "已收集信息 订单号: SL2025061201" in shown
    assert "引用的知识 Top-ups that did not arrive" in shown
    assert "recharge_not_arrived" not in shown and "order_no" not in shown
    assert '"name": "recharge_not_arrived"' in raw and '"confidence": 0.78' in raw


def labels(page) -> list[str]:
    """The names the page gives things: form labels, column headings, filters, sections."""
    content = page.content.decode()
    content = content[content.index('id="content"') :]
    content = re.sub(r'<span class="sortpriority"[^>]*>.*?</span>', "", content)  # a sorted column's "1"
    found = re.findall(r"<label[^>]*>(.*?)</label>", content, re.S)
    found += re.findall(r'<th[^>]*class="[^"]*column-[^"]*"[^>]*>(.*?)</th>', content, re.S)
    found += re.findall(r"<summary>(.*?)</summary>", content, re.S)
    words = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", label)).split()).rstrip(":：") for label in found]
    return [word for word in words if word]


@pytest.mark.parametrize(
    ("page", "some_labels"),
    [
        ("/admin/chat/conversation/", ["会话", "状态", "更新时间", "以 创建时间"]),
        ("/admin/chat/conversation/{chat}/change/", ["开始等待时间", "最新消息序号", "操作人", "序号", "发送方"]),
        ("/admin/chat/message/", ["会话", "发送方", "文本", "以 仅内部可见", "以 发送方"]),
        ("/admin/chat/message/{answer}/change/", ["序号", "首字延迟（毫秒）", "输入 token 数", "客户端 ID", "元数据"]),
    ],
)
def test_in_chinese_the_admin_names_every_field_of_a_conversation_and_a_message_in_chinese(
    reader, chat, page, some_labels
):
    answer = Message.objects.get(conversation=chat, sender="bot")
    named = labels(reader.get(page.format(chat=chat.pk, answer=answer.pk), HTTP_ACCEPT_LANGUAGE="zh-hans"))

    assert set(some_labels) <= set(named), named
    # "ID" reads the same in Chinese; any other label without a Chinese character is English.
    assert [label for label in named if label.isascii() and label != "ID"] == []


def test_in_chinese_every_list_of_our_admin_names_its_columns_in_chinese(chat, django_user_model):
    """The players' list headed its first column "LABEL" (and said "en" for a language): a
    column the admin computes is named by its description, or Django writes its name in English."""
    from django.contrib import admin

    root = Client()
    root.force_login(django_user_model.objects.create_superuser("root", password="x"))
    english = {}
    for model in admin.site._registry:
        if model._meta.app_label not in ("chat", "agents", "analytics"):
            continue
        page = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        named = labels(root.get(page, HTTP_ACCEPT_LANGUAGE="zh-hans"))
        unnamed = [label for label in named if label.isascii() and label != "ID"]
        if unnamed:
            english[page] = unnamed

    assert english == {}
    players = root.get("/admin/chat/player/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert re.search(r'<th class="field-name"><a [^>]*>Lin</a></th>', players)
    assert '<td class="field-language_in_words">英语</td>' in players


def test_staff_on_a_chat_are_named_as_on_the_dashboard_with_their_username(reader, chat, alice):
    """The dashboard says "Alice"; the admin said "alice", the login, on every page."""
    alice.first_name = "Alice"
    alice.save()
    Conversation.objects.filter(pk=chat.pk).update(state=Conversation.State.HUMAN, assignee=alice)
    ConversationEvent.objects.create(conversation=chat, kind="taken_over", actor=alice)
    message_append(conversation_id=chat.pk, sender="agent", author_id=alice.pk, text="I'm on it.")

    pages = [
        "/admin/chat/conversation/",
        f"/admin/chat/conversation/{chat.pk}/change/",  # its events and messages
        "/admin/chat/message/",
        "/admin/chat/conversationevent/",
    ]
    for url in pages:
        shown, _ = seen(reader.get(url))
        assert "Alice (alice)" in shown, url


def test_the_messages_list_shows_a_long_text_in_short_with_the_whole_of_it_a_hover_and_a_click_away(
    reader, chat, alice
):
    """At 1280 px the list's eight columns left the text ~75 px; it has five now, the text
    the only wide one (tests/e2e/test_admin_browser.py measures it), and a note says so
    under its author."""
    alice.first_name = "Alice"
    alice.save()
    long_answer = "Your top-up is on its way. " * 12
    answer = message_append(conversation_id=chat.pk, sender="bot", text=long_answer)
    message_append(conversation_id=chat.pk, sender="agent", author_id=alice.pk, text="VIP", internal=True)

    page = reader.get("/admin/chat/message/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    headings = re.findall(r'<th[^>]*class="[^"]*column-([a-z_]+)', page)
    assert headings == ["chat", "sender_and_author", "short_text", "status", "sent_at"]
    text_cell = re.search(
        rf'<th class="field-short_text"><a href="/admin/chat/message/{answer.pk}/change/[^"]*">(.*?)</a>', page
    )
    assert text_cell, "the text opens the message"
    shown = html.unescape(text_cell.group(1))
    assert f'title="{long_answer}"' in shown  # the whole text, on hover
    assert shown.endswith(long_answer[:160] + "…</span>")
    assert (
        f'<a href="/admin/chat/conversation/{chat.pk}/change/"><span class="keep-whole">#{chat.pk}</span> '
        '<span class="keep-whole">Lin</span></a>' in page
    )  # the chat, not the message
    shown_note, _raw = seen(reader.get("/admin/chat/message/?q=VIP"))
    assert f"#{chat.pk} Lin Alice (alice) internal VIP done" in shown_note


def test_a_past_chat_read_in_chinese_ends_on_a_link_back_to_the_list_not_on_one_to_close_it(reader, chat, alice):
    """The view-only page's link back to the list read "结束对话" (end the chat), the
    dashboard's word for closing one: an agent reading a past case took it for an action."""
    page = reader.get(f"/admin/chat/conversation/{chat.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    back = re.search(r'<a href="/admin/chat/conversation/" class="closelink">(.*?)</a>', page)
    assert back and back.group(1) == "关闭"
    assert "结束对话" not in page

    dashboard = Client()
    dashboard.force_login(alice)
    close = re.search(
        r'data-testid="close" hidden>(.*?)</button>',
        dashboard.get("/staff/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode(),
    )
    assert close and close.group(1) == "结束对话"  # where it does end the chat


def test_each_event_of_a_past_chat_is_headed_in_the_readers_words_not_its_code(reader, chat):
    """Above each event of a chat the admin wrote "25 escalated", the code, in the Chinese admin too."""
    page = reader.get(f"/admin/chat/conversation/{chat.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    headings = [h.strip() for h in re.findall(r'<td class="original">\s*<p>(.*?)</p>', page, re.S)]
    assert f"{chat.pk} 已转人工" in headings
    assert not any("escalated" in heading for heading in headings)
