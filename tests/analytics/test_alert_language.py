"""Every member of staff reads an alert in their own language: the dashboard's banner when it
is raised, the banners a dashboard loads when it connects, and the anomalies page."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import sync_to_async
from django.utils import translation

from analytics.models import Alert
from analytics.services.alerts import alert_payload, alert_publish, describe
from tests.chat.staff_client import StaffSocket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

ENGLISH = "Handoff surge: 6 chats asked for a human in the last 10 minutes, where usually none does."
CHINESE = "转人工激增：最近 10 分钟内有 6 个会话请求人工，平时几乎没有。"


def handoff_surge() -> Alert:
    # Stored as the detector stores it: the description in LANGUAGE_CODE, the numbers in data.
    data = {"count": 6, "expected": 0.01, "minutes": 10}
    with translation.override("en"):
        description = describe(Alert.Kind.HANDOFF_SURGE, "", data)
    return Alert.objects.create(
        kind=Alert.Kind.HANDOFF_SURGE, description=description, value=6, threshold=5, baseline=0.01, data=data
    )


async def dashboard(user, **language) -> StaffSocket:
    """A connected dashboard whose browser asks for a language by cookie or Accept-Language."""
    cookie = await sync_to_async(session_cookie)(user)
    if "cookie" in language:
        cookie += f"; django_language={language['cookie']}"
    sock = StaffSocket(cookie)
    if "accept" in language:
        sock.comm.scope["headers"].append((b"accept-language", language["accept"].encode()))
    await sock.connect()
    return sock


def is_alert(frame: dict) -> bool:
    return frame.get("type") == "alert"


async def test_a_raised_alert_reaches_each_dashboard_in_its_own_language(alice, bob, mia):
    chinese_by_cookie = await dashboard(alice, cookie="zh-hans")
    chinese_by_browser = await dashboard(bob, accept="zh-CN,zh;q=0.9,en;q=0.5")
    english = await dashboard(mia, accept="en-US,en;q=0.9")

    alert = await sync_to_async(handoff_surge)()
    await sync_to_async(alert_publish)(alert, "raised")

    seen = [
        (await sock.receive_until(is_alert))["alert"]["description"]
        for sock in (chinese_by_cookie, chinese_by_browser, english)
    ]
    for sock in (chinese_by_cookie, chinese_by_browser, english):
        await sock.close()
    assert seen == [CHINESE, CHINESE, ENGLISH]


async def test_a_dashboard_that_connects_later_loads_the_active_alerts_in_its_language(alice, mia):
    await sync_to_async(handoff_surge)()

    chinese = await dashboard(alice, cookie="zh-hans")
    banner = await chinese.receive_until(is_alert)
    english = await dashboard(mia)
    english_banner = await english.receive_until(is_alert)
    await chinese.close()
    await english.close()
    assert banner["alert"]["description"] == CHINESE
    assert english_banner["alert"]["description"] == ENGLISH


@pytest.mark.parametrize(
    ("expected", "english", "chinese"),
    [
        (0.0, "where usually none does.", "平时几乎没有。"),
        (0.4, "where usually fewer than one does.", "平时不到 1 个。"),
        (2.04, "where about 2.0 usually do.", "平时约 2.0 个。"),
        (12.4, "where about 12 usually do.", "平时约 12 个。"),
    ],
    ids=["none", "under one", "a few", "many"],
)
def test_the_handoff_surge_says_what_is_usual_in_words_a_manager_reads(expected, english, chinese):
    data = {"count": 6, "expected": expected, "minutes": 10}
    with translation.override("en"):
        said = describe(Alert.Kind.HANDOFF_SURGE, "", data)
    with translation.override("zh-hans"):
        said_zh = describe(Alert.Kind.HANDOFF_SURGE, "", data)
    assert said == f"Handoff surge: 6 chats asked for a human in the last 10 minutes, {english}"
    assert said_zh == f"转人工激增：最近 10 分钟内有 6 个会话请求人工，{chinese}"
    assert "0.0" not in said + said_zh


@pytest.mark.parametrize(
    ("kind", "key", "data", "english", "chinese"),
    [
        (
            Alert.Kind.LLM_ERRORS,
            "",
            {"failed": 6, "answers": 12, "rate": 0.5, "baseline": None, "minutes": 10},
            "LLM errors: 6 of 12 bot answers failed in the last 10 minutes (50%); "
            "the bot gave no answers in the previous 24 hours to compare with.",
            "LLM 错误：最近 10 分钟内 12 条机器人回答中有 6 条失败（50%）；之前 24 小时机器人没有回答，无从比较。",
        ),
        (
            Alert.Kind.TTFT_P95,
            "",
            {"p95_ms": 9000, "answers": 12, "baseline_ms": None, "minutes": 10},
            "Slow answers: the time to first token p95 is 9.0 s over the last 10 minutes (12 answers); "
            "the bot gave no answers in the previous 24 hours to compare with.",
            "回答变慢：最近 10 分钟内首字响应时间 p95 为 9.0 秒（12 条回答）；之前 24 小时机器人没有回答，无从比较。",
        ),
        (
            Alert.Kind.NEGATIVE_SENTIMENT,
            "",
            {"negative": 9, "chats": 22, "share": 0.41, "baseline": None, "minutes": 10},
            "Unhappy players: 9 of 22 active chats are negative in the last 10 minutes (41%); "
            "no player wrote in the previous 24 hours to compare with.",
            "玩家不满：最近 10 分钟内 22 个活跃会话中有 9 个情绪负面（41%）；之前 24 小时没有玩家发言，无从比较。",
        ),
        (
            Alert.Kind.NEGATIVE_SENTIMENT,
            "s3",
            {"negative": 5, "chats": 6, "share": 0.83, "baseline": None, "minutes": 10},
            "Unhappy players on server s3: 5 of 6 active chats are negative in the last 10 minutes (83%); "
            "no player wrote in the previous 24 hours to compare with.",
            "s3 服玩家不满：最近 10 分钟内 6 个活跃会话中有 5 个情绪负面（83%）；之前 24 小时没有玩家发言，无从比较。",
        ),
    ],
    ids=["llm errors", "slow answers", "unhappy players", "unhappy players on a server"],
)
def test_an_alert_with_nothing_before_it_says_so_rather_than_against_no_data(kind, key, data, english, chinese):
    # A fresh install or a quiet night: the alert read "…, against no data usually." ("平时为 无数据").
    with translation.override("en"):
        said = describe(kind, key, data)
    with translation.override("zh-hans"):
        said_zh = describe(kind, key, data)
    assert (said, said_zh) == (english, chinese)


def test_an_alert_without_its_numbers_keeps_its_stored_text(db):
    odd = Alert.objects.create(kind=Alert.Kind.QUEUE_WAIT, description="Long queue (old row)", value=1, threshold=1)
    assert alert_payload(odd, "zh-hans")["description"] == "Long queue (old row)"


def test_the_alerts_csv_speaks_the_managers_language(mia, client):
    handoff_surge()
    client.force_login(mia)

    def description(language: str) -> str:
        page = client.get("/analytics/anomalies/?format=csv", HTTP_ACCEPT_LANGUAGE=language)
        (row,) = csv.DictReader(io.StringIO(page.content.decode().lstrip("\ufeff")))
        return row["description"]

    assert description("zh-hans") == CHINESE
    assert description("en") == ENGLISH


def test_the_long_queue_alert_reads_without_a_stray_space_in_chinese():
    # "平时玩家约等待 1.6 分钟 后由人工接入": a space before 后, as if a word were missing.
    data = {"waiting": 7, "oldest_s": 912, "baseline_s": 95}
    with translation.override("zh-hans"):
        said = describe(Alert.Kind.QUEUE_WAIT, "", data)
    assert said == "排队过长：7 位玩家在等待人工，最长已等待 15.2 分钟（平时玩家约等待 1.6 分钟后由人工接入）。"


def test_a_handoff_surge_read_against_the_same_hour_of_the_days_before_says_so():
    # The evening is busy every day: a manager reading "about 12 usually do" must know that is
    # the evening's usual, not the whole day's.
    data = {"count": 30, "expected": 12.4, "minutes": 10, "days": 7}
    with translation.override("en"):
        said = describe(Alert.Kind.HANDOFF_SURGE, "", data)
    with translation.override("zh-hans"):
        said_zh = describe(Alert.Kind.HANDOFF_SURGE, "", data)
    assert said.endswith("where about 12 usually do. (The usual is this time of day on the 7 days before.)")
    assert said_zh.endswith("平时约 12 个。（平时指前 7 天的同一时段。）")
