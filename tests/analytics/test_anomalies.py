"""Anomaly detection on injected faults: the alert is raised with a plain description,
reaches the staff sockets and the webhook, and clears when the signal is normal again."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from analytics.models import Alert
from analytics.services import aggregation, alerts
from analytics.services.alerts import Signal
from analytics.services.anomalies import anomalies_detect, heartbeat_record, worker_check
from analytics.services.stats import stats_compute_many
from chat.models import Message
from tests.analytics.conftest import T0
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def normal_day(players, alice, now):
    """The previous 24 hours: two calm chats an hour, three quick answers each, one handoff every 12 h."""
    ids = []
    for hour in range(1, 25):
        for n in range(2):
            start = now - timedelta(hours=hour, minutes=20 + n * 10)
            chat = Chat(players[n], start, intent="gameplay", server="s1").player(0, "怎么转职", sentiment=0.2)
            chat.bot(2, ttft_ms=800).player(30, "好的", sentiment=0.3).bot(32, ttft_ms=800).bot(40, ttft_ms=900)
            if hour % 12 == 0 and n == 0:
                chat.escalate(50, "player_request").take_over(100, alice).agent(110, alice)
            chat.close(300)
            ids.append(chat.pk)
    stats_compute_many(conversation_ids=ids)
    aggregation.aggregate_dirty()


def bot_answers(player, start, *, good: int, failed: int = 0, ttft_ms: int = 800, server: str = "s1") -> Chat:
    """An open chat with bot answers one every 20 s from start."""
    chat = Chat(player, start, intent="recharge", server=server).player(0, "充值没到账")
    for i in range(good + failed):
        status = Message.Status.FAILED if i < failed else Message.Status.DONE
        chat.bot(1 + i * 20, ttft_ms=None if status == Message.Status.FAILED else ttft_ms, status=status)
    return chat


def active(kind: str, key: str = "") -> Alert | None:
    return Alert.objects.filter(kind=kind, key=key, state="active").first()


def changes(results) -> dict[tuple[str, str], str]:
    return {(signal.kind, signal.key): event for signal, event in results if event}


def test_a_quiet_day_raises_no_alert(normal_day, now):
    assert changes(anomalies_detect(now=now)) == {}
    assert not Alert.objects.exists()


def test_failing_llm_answers_raise_an_alert_that_clears_when_answers_succeed_again(normal_day, players, now):
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)

    assert changes(anomalies_detect(now=now)) == {("llm_errors", ""): "raised"}
    alert = active("llm_errors")
    assert alert.description == (
        "LLM errors: 6 of 12 bot answers failed in the last 10 minutes (50%), against 0% over the previous 24 hours."
    )
    assert (alert.value, alert.threshold) == (0.5, 0.1)

    # Twelve minutes on: the failures have left the window, the new answers are fine.
    later = now + timedelta(minutes=12)
    bot_answers(players[3], later - timedelta(minutes=6), good=12)
    assert changes(anomalies_detect(now=later)) == {("llm_errors", ""): "cleared"}
    alert.refresh_from_db()
    assert alert.state == "cleared" and alert.cleared_at == later


def test_an_alert_still_off_is_raised_once(normal_day, players, now):
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    anomalies_detect(now=now)

    assert changes(anomalies_detect(now=now + timedelta(minutes=1))) == {}
    assert Alert.objects.filter(kind="llm_errors").count() == 1


def test_slow_first_tokens_raise_the_ttft_p95_alert(normal_day, players, now):
    bot_answers(players[2], now - timedelta(minutes=8), good=12, ttft_ms=9000)

    assert changes(anomalies_detect(now=now)) == {("ttft_p95", ""): "raised"}
    assert active("ttft_p95").description == (
        "Slow answers: the time to first token p95 is 9.0 s over the last 10 minutes (12 answers), "
        "against 0.9 s over the previous 24 hours."
    )


def test_a_burst_of_escalations_raises_the_handoff_surge_alert(normal_day, players, now):
    for i in range(6):
        Chat(players[i % 5], now - timedelta(minutes=9)).player(0, "转人工").escalate(30 + i, "player_request")

    result = changes(anomalies_detect(now=now))
    assert result[("handoff_surge", "")] == "raised"
    assert active("handoff_surge").description == (
        "Handoff surge: 6 chats asked for a human in the last 10 minutes, where usually none does."
    )


def test_angry_players_on_one_server_raise_an_alert_for_that_server_only(normal_day, players, now):
    for i in range(6):
        Chat(players[i % 5], now - timedelta(minutes=5), server="s7").player(i, "垃圾游戏", sentiment=-0.8)
    for i in range(20):
        Chat(players[i % 5], now - timedelta(minutes=5), server="s1").player(i, "谢谢", sentiment=0.3)

    assert changes(anomalies_detect(now=now)) == {("negative_sentiment", "s7"): "raised"}
    assert active("negative_sentiment", "s7").description == (
        "Unhappy players on server s7: 6 of 6 active chats are negative in the last 10 minutes (100%), "
        "against 0% usually."
    )
    # Calm returns: nothing on s7 in the next window clears its alert.
    assert changes(anomalies_detect(now=now + timedelta(minutes=11))) == {("negative_sentiment", "s7"): "cleared"}


def test_a_player_waiting_too_long_raises_the_queue_alert_until_someone_takes_the_chat(normal_day, players, alice, now):
    chat = Chat(players[4], now - timedelta(minutes=21)).player(0, "人工客服").escalate(60, "player_request")

    assert changes(anomalies_detect(now=now))[("queue_wait", "")] == "raised"
    assert active("queue_wait").description == (
        "Long queue: 1 player is waiting for a human and has waited 20.0 min "
        "(players usually wait 0.8 min before one takes their chat)."
    )
    chat.take_over(21 * 60, alice)
    assert changes(anomalies_detect(now=now + timedelta(seconds=30)))[("queue_wait", "")] == "cleared"


def test_a_stale_worker_heartbeat_raises_the_worker_alert_until_it_beats_again(db, settings, now):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as in production: a worker is expected
    heartbeat_record(hostname="celery@worker-1", now=now - timedelta(minutes=5))

    assert worker_check(now=now) == "raised"
    assert "No Celery worker has run a task for 5.0 min (last heartbeat from celery@worker-1)" in (
        active("worker_stopped").description
    )
    heartbeat_record(hostname="celery@worker-1", now=now)
    assert worker_check(now=now + timedelta(seconds=1)) == "cleared"


def test_no_worker_alert_when_celery_runs_eagerly(db, now):
    heartbeat_record(hostname="celery@old", now=now - timedelta(days=1))
    assert worker_check(now=now) is None


# --- Telling people ------------------------------------------------------------------


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []
    # What a chat tool's robot answers, as WeCom and DingTalk do: HTTP 200 and this JSON.
    robot_reply: dict | None = None

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append({"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)})
        if Hook.robot_reply is None:
            self.send_response(204)
            self.end_headers()
            return
        reply = json.dumps(Hook.robot_reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(settings):
    Hook.received = []
    Hook.robot_reply = None
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hooks/csbot"
    yield Hook.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def staff_socket():
    """A channel in the staff alerts group, as the staff dashboard's consumer joins it."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("staff.alerts", channel)
    yield lambda: async_to_sync(layer.receive)(channel)
    async_to_sync(layer.group_discard)("staff.alerts", channel)


def test_raising_and_clearing_post_to_the_webhook_and_the_staff_sockets(
    normal_day, players, now, webhook, staff_socket, django_capture_on_commit_callbacks
):
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    with django_capture_on_commit_callbacks(execute=True):
        anomalies_detect(now=now)
    alert = active("llm_errors")

    expected = {
        "id": alert.pk,
        "kind": "llm_errors",
        "key": "",
        "state": "active",
        "description": alert.description,
        "value": 0.5,
        "baseline": 0.0,
        "threshold": 0.1,
        "raised_at": now.isoformat(),
        "cleared_at": None,
    }
    # The title is what the ops team's chat tool shows above the description.
    titled = {"title": "Alert: LLM error rate", **expected}
    assert webhook == [
        {"path": "/hooks/csbot", "type": "application/json", "json": {"event": "alert.raised", "alert": titled}}
    ]
    event = staff_socket()
    assert event["type"] == "relay"
    assert json.loads(event["frame"]) == {"type": "alert", "event": "raised", "alert": expected}

    later = answers_succeed_again(players, now)
    with django_capture_on_commit_callbacks(execute=True):
        anomalies_detect(now=later)
    assert webhook[1]["json"]["event"] == "alert.cleared"
    assert webhook[1]["json"]["alert"]["title"] == "Cleared: LLM error rate"
    assert webhook[1]["json"]["alert"]["state"] == "cleared"
    assert webhook[1]["json"]["alert"]["cleared_at"] == later.isoformat()
    assert json.loads(staff_socket()["frame"])["event"] == "cleared"


def test_the_webhook_speaks_the_ops_teams_language(
    normal_day, players, now, webhook, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_LANGUAGE = "zh-hans"
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    with django_capture_on_commit_callbacks(execute=True):
        anomalies_detect(now=now)
    with django_capture_on_commit_callbacks(execute=True):
        anomalies_detect(now=answers_succeed_again(players, now))

    assert [hook["json"]["alert"]["title"] for hook in webhook] == ["告警：LLM 错误率", "已恢复：LLM 错误率"]
    raised, cleared = (hook["json"]["alert"]["description"] for hook in webhook)
    assert raised.startswith("LLM 错误：最近 10 分钟内 12 条机器人回答中有 6 条失败（50%）")
    assert cleared == raised
    # The stored text, the fallback for an alert without its numbers, stays in LANGUAGE_CODE.
    assert Alert.objects.get().description.startswith("LLM errors: 6 of 12 bot answers failed")


def answers_succeed_again(players, now) -> datetime:
    """Twelve minutes on, twelve good answers: the LLM errors alert reads normal and clears."""
    later = now + timedelta(minutes=12)
    bot_answers(players[3], later - timedelta(minutes=6), good=12)
    return later


def raise_llm_errors(players, now, capture):
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    with capture(execute=True):
        anomalies_detect(now=now)
    return active("llm_errors")


def test_a_wecom_group_robot_gets_the_alert_as_its_markdown_message(
    normal_day, players, now, webhook, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_WEBHOOK_FORMAT = "wecom"
    alert = raise_llm_errors(players, now, django_capture_on_commit_callbacks)

    assert webhook == [
        {
            "path": "/hooks/csbot",
            "type": "application/json",
            "json": {"msgtype": "markdown", "markdown": {"content": f"**Alert: LLM error rate**\n{alert.description}"}},
        }
    ]


@pytest.mark.parametrize(
    ("fmt", "reply", "permanent"),
    [
        ("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, True),
        ("dingtalk", {"errcode": 310000, "errmsg": "keywords not in content"}, True),
        ("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}, False),
        ("dingtalk", {"errcode": 130101, "errmsg": "send too fast"}, False),
    ],
)
def test_a_robot_that_refuses_the_alert_with_http_200_is_not_taken_for_delivered(
    normal_day, players, now, webhook, settings, django_capture_on_commit_callbacks, fmt, reply, permanent
):
    """WeCom and DingTalk answer 200 with an errcode to a POST they refuse: a wrong key or a
    missing keyword is for the operator to fix; too many messages is worth a retry."""
    settings.ALERT_WEBHOOK_FORMAT = fmt
    alert = raise_llm_errors(players, now, django_capture_on_commit_callbacks)
    Hook.robot_reply = reply

    with pytest.raises(alerts.WebhookError) as refused:
        alerts.webhook_post(alert, "raised", url=settings.ALERT_WEBHOOK_URL)

    assert f"errcode {reply['errcode']} {reply['errmsg']}" in str(refused.value)
    assert refused.value.permanent is permanent


def test_a_robot_that_took_the_alert_is_delivered(
    normal_day, players, now, webhook, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_WEBHOOK_FORMAT = "dingtalk"
    alert = raise_llm_errors(players, now, django_capture_on_commit_callbacks)
    Hook.robot_reply = {"errcode": 0, "errmsg": "ok"}

    alerts.webhook_post(alert, "raised", url=settings.ALERT_WEBHOOK_URL)  # raises nothing


def test_a_dingtalk_robot_gets_the_alert_titled_in_chinese_for_a_team_that_reads_it(
    normal_day, players, now, webhook, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_WEBHOOK_FORMAT = "dingtalk"
    settings.ALERT_LANGUAGE = "zh-hans"
    raise_llm_errors(players, now, django_capture_on_commit_callbacks)

    (hook,) = webhook
    assert hook["json"]["msgtype"] == "markdown"
    assert hook["json"]["markdown"]["title"] == "告警：LLM 错误率"
    heading, description = hook["json"]["markdown"]["text"].split("\n\n")
    assert heading == "### 告警：LLM 错误率"
    assert description.startswith("LLM 错误：最近 10 分钟内 12 条机器人回答中有 6 条失败（50%）")


def test_a_slack_channel_gets_the_alert_and_its_clearing_as_text(
    normal_day, players, now, webhook, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_WEBHOOK_FORMAT = "slack"
    alert = raise_llm_errors(players, now, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        anomalies_detect(now=answers_succeed_again(players, now))

    assert [hook["json"] for hook in webhook] == [
        {"text": f"*Alert: LLM error rate*\n{alert.description}"},
        {"text": f"*Cleared: LLM error rate*\n{alert.description}"},
    ]


# A game server is named by the game backend or by what the player typed: "<!here>" or
# "*VIP*" must reach the ops team's chat as the characters they are, not a ping or bold.
ODD_SERVER = "s_1 *VIP* [x](https://evil.example) <!here> <@ops> `x` a&b"


def unhappy_server_alert() -> Alert:
    data = {"negative": 6, "chats": 6, "share": 1.0, "baseline": 0.0, "minutes": 10}
    return Alert.objects.create(
        kind="negative_sentiment", key=ODD_SERVER, value=1.0, threshold=0.3, raised_at=timezone.now(), data=data
    )


@pytest.mark.parametrize(
    ("fmt", "server"),
    [
        ("wecom", "s_1 ＊VIP＊ ［x］(https://evil.example) ＜!here＞ ＜@ops＞ ｀x｀ a&b"),
        ("dingtalk", "s_1 ＊VIP＊ ［x］(https://evil.example) ＜!here＞ ＜@ops＞ ｀x｀ a&b"),
        ("slack", "s＿1 ＊VIP＊ [x](https://evil.example) &lt;!here&gt; &lt;@ops&gt; ｀x｀ a&amp;b"),
    ],
)
def test_what_a_player_typed_reaches_the_ops_chat_as_text_not_markup_or_a_ping(db, webhook, settings, fmt, server):
    settings.ALERT_WEBHOOK_FORMAT = fmt

    alerts.webhook_post(unhappy_server_alert(), "raised", url=settings.ALERT_WEBHOOK_URL)

    (hook,) = webhook
    sent = json.dumps(hook["json"], ensure_ascii=False)
    assert f"Alert: Negative sentiment surge · {server}" in sent
    assert f"Unhappy players on server {server}: 6 of 6 active chats" in sent
    for markup in ("*VIP*", "<!here>", "<@ops>", "`x`"):
        assert markup not in sent
    # A Markdown link is markup to WeCom and DingTalk; Slack shows it as it is.
    assert ("[x](" in sent) is (fmt == "slack")


@pytest.mark.parametrize("fmt", ["wecom", "dingtalk"])
def test_a_server_with_an_underscore_reads_as_its_name_in_wecom_and_dingtalk(db, webhook, settings, fmt):
    """Neither robot's markdown reads `_` or `~`: "s_1" sent as "s＿1" named no server the team knew."""
    settings.ALERT_WEBHOOK_FORMAT = fmt
    data = {"negative": 6, "chats": 6, "share": 1.0, "baseline": 0.0, "minutes": 10}
    alert = Alert.objects.create(
        kind="negative_sentiment", key="s_1 ~beta~", value=1.0, threshold=0.3, raised_at=timezone.now(), data=data
    )

    alerts.webhook_post(alert, "raised", url=settings.ALERT_WEBHOOK_URL)

    (hook,) = webhook
    sent = json.dumps(hook["json"], ensure_ascii=False)
    assert "Alert: Negative sentiment surge · s_1 ~beta~" in sent
    assert "Unhappy players on server s_1 ~beta~: 6 of 6 active chats" in sent


def test_a_json_receiver_still_gets_the_server_as_the_player_typed_it(db, webhook, settings):
    alerts.webhook_post(unhappy_server_alert(), "raised", url=settings.ALERT_WEBHOOK_URL)

    (hook,) = webhook
    assert hook["json"]["alert"]["key"] == ODD_SERVER
    assert hook["json"]["alert"]["title"] == f"Alert: Negative sentiment surge · {ODD_SERVER}"


def test_a_servers_alert_is_titled_with_its_signal_and_server_in_either_language():
    from analytics.services.alerts import alert_title

    alert = Alert(kind=Alert.Kind.NEGATIVE_SENTIMENT, key="s7")

    assert alert_title(alert, "raised", "en") == "Alert: Negative sentiment surge · s7"
    assert alert_title(alert, "cleared", "zh-hans") == "已恢复：负面情绪激增 · s7"


def test_a_staff_socket_that_connects_later_gets_the_alerts_still_active(normal_day, players, now):
    from analytics.hooks import active_alert_frames

    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    anomalies_detect(now=now)

    (frame,) = [json.loads(f) for f in active_alert_frames()]
    assert (frame["type"], frame["event"], frame["alert"]["kind"], frame["alert"]["state"]) == (
        "alert", "raised", "llm_errors", "active",
    )  # fmt: skip


def test_an_unreachable_webhook_does_not_stop_detection(
    normal_day, players, now, settings, django_capture_on_commit_callbacks
):
    from tests.servers import free_port

    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{free_port()}/nobody-listens"
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    with django_capture_on_commit_callbacks(execute=True):
        result = changes(anomalies_detect(now=now))

    assert result == {("llm_errors", ""): "raised"}
    assert active("llm_errors") is not None


def test_the_anomalies_page_lists_the_active_alert_in_plain_words(normal_day, players, now, client, mia):
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    anomalies_detect(now=now)
    client.force_login(mia)

    page = client.get("/analytics/anomalies/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "6 of 12 bot answers failed in the last 10 minutes (50%)" in html
    assert [a.kind for a in page.context["active"]] == ["llm_errors"]


def test_the_anomalies_page_speaks_the_managers_language(normal_day, players, now, client, mia):
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    anomalies_detect(now=now)
    client.force_login(mia)

    html = client.get("/analytics/anomalies/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "最近 10 分钟内 12 条机器人回答中有 6 条失败（50%）" in html


def test_failures_as_usual_as_yesterdays_raise_nothing(players, now):
    # Yesterday one answer in three failed: half of them failing now is bad, but not
    # three times worse than usual, so it is no anomaly.
    ids = []
    for hour in range(1, 25):
        chat = Chat(players[0], now - timedelta(hours=hour, minutes=30), intent="gameplay").player(0, "怎么转职")
        chat.bot(2, ttft_ms=None, status=Message.Status.FAILED).bot(20, ttft_ms=800).bot(40, ttft_ms=800).close(300)
        ids.append(chat.pk)
    stats_compute_many(conversation_ids=ids)
    aggregation.aggregate_dirty()
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)

    (signal,) = [s for s, _event in anomalies_detect(now=now) if s.kind == "llm_errors"]
    assert (signal.abnormal, signal.value, signal.baseline) == (False, 0.5, pytest.approx(1 / 3))
    assert signal.threshold == pytest.approx(1.0)
    assert not Alert.objects.exists()


# --- The baseline is what came before, in the same units ------------------------------


def test_a_surge_on_a_fresh_database_is_compared_with_nothing_not_with_itself(players):
    # 10:30: the window (10:20-10:30) lies in the hour 10:00, already aggregated with its chats.
    now = T0 + timedelta(minutes=30)
    ids = []
    for i in range(4):
        chat = Chat(players[i], now - timedelta(minutes=8)).player(0, "转人工").escalate(30, "player_request")
        ids.append(chat.close(120).pk)
    stats_compute_many(conversation_ids=ids)
    aggregation.aggregate_dirty()

    (signal,) = [s for s, _event in anomalies_detect(now=now) if s.kind == "handoff_surge"]
    assert (signal.value, signal.baseline) == (4, 0)
    assert signal.data["expected"] == 0


def test_agents_stepping_in_on_their_own_do_not_hide_players_asking_for_a_human(players, alice):
    # All yesterday agents took over two chats every 10 minutes without anyone asking:
    # handed-off chats, but no escalation. Only escalations are the baseline of escalations.
    now = T0 + timedelta(minutes=30)
    ids = []
    for slot in range(1, 24 * 6 + 1):
        for n in range(2):
            start = now - timedelta(minutes=10 * slot + 5)
            chat = Chat(players[n], start).player(0, "卡住了").take_over(20, alice).agent(30, alice)
            ids.append(chat.close(60).pk)
    stats_compute_many(conversation_ids=ids)
    aggregation.aggregate_dirty()
    for i in range(5):
        Chat(players[i], now - timedelta(minutes=5)).player(0, "转人工").escalate(10 + i, "player_request")

    assert changes(anomalies_detect(now=now)).get(("handoff_surge", "")) == "raised"
    assert active("handoff_surge").baseline == 0


def test_the_usual_escalations_are_those_of_the_24_hours_before_the_window(players):
    now = T0 + timedelta(minutes=30)
    for hour in range(24):  # one escalation an hour, every hour of the day before
        Chat(players[0], now - timedelta(hours=hour, minutes=20)).player(0, "人工").escalate(1, "player_request")
    Chat(players[1], now - timedelta(hours=25)).player(0, "人工").escalate(1, "player_request")  # too old

    (signal,) = [s for s, _event in anomalies_detect(now=now) if s.kind == "handoff_surge"]
    assert signal.value == 0
    assert signal.baseline == pytest.approx(24 / 144)


# Players asking for a person per hour of a game's day (UTC, the embedded TIME_ZONE): a few at
# night, most in the evening, the peak three and a half times the day's mean.
ASKED_PER_HOUR = [4, 2, 1, 1, 0, 0, 1, 2, 4, 6, 8, 10, 10, 10, 10, 10, 12, 16, 24, 36, 42, 42, 30, 10]
DAY = timedelta(days=1)


def days_of_asking(players, first_day: datetime, days: int) -> None:
    """`days` days of escalations in the daily cycle above, spread evenly within each hour."""
    from analytics.history import _keep_timestamps
    from chat.models import Conversation, ConversationEvent

    events = []
    with _keep_timestamps():
        for day in range(days):
            midnight = first_day + day * DAY
            chat = Conversation.objects.create(player=players[day % 5], created_at=midnight, updated_at=midnight)
            for hour, asked in enumerate(ASKED_PER_HOUR):
                events += [
                    ConversationEvent(
                        conversation=chat,
                        kind="escalated",
                        reason="player_request",
                        created_at=midnight + timedelta(hours=hour, seconds=(n + 0.5) * 3600 / asked),
                    )
                    for n in range(asked)
                ]
        ConversationEvent.objects.bulk_create(events)


def surges_over(day: datetime) -> list[str]:
    """Every ten minutes of the day, what the handoff surge alert did: "20:10 raised"."""
    seen = []
    for slot in range(1, 24 * 6 + 1):
        at = day + timedelta(minutes=10 * slot - 5)
        event = changes(anomalies_detect(now=at)).get(("handoff_surge", ""))
        if event:
            seen.append(f"{timezone.localtime(at):%H:%M} {event}")
    return seen


def test_the_evening_peak_of_players_asking_for_a_person_is_no_surge(players):
    """Against the mean of the 24 hours before, every evening raised "Handoff surge" at 20:00,
    when players ask for a person most, and cleared after 22:00: the ops team learnt to ignore it."""
    today = T0.replace(hour=0) + 7 * DAY
    days_of_asking(players, today - 7 * DAY, days=8)

    assert surges_over(today) == []
    assert reading("handoff_surge", anomalies_detect(now=today + timedelta(hours=20, minutes=35))).data == {
        "count": 8, "expected": pytest.approx(7, abs=0.2), "minutes": 10, "days": 7,
    }  # fmt: skip


def extra_asking(players, now: datetime, count: int) -> str | None:
    """`count` more players ask for a person in the nine minutes before `now`: what the surge alert did."""
    for i in range(count):
        Chat(players[i % 5], now - timedelta(minutes=9)).player(0, "转人工").escalate(i * 30, "player_request")
    return changes(anomalies_detect(now=now)).get(("handoff_surge", ""))


def test_players_asking_for_a_person_three_times_as_often_as_at_this_hour_is_a_surge(players):
    today = T0.replace(hour=0) + 7 * DAY
    days_of_asking(players, today - 7 * DAY, days=8)

    assert extra_asking(players, today + timedelta(hours=20, minutes=35), 15) == "raised"  # 23 where 7 is usual
    assert active("handoff_surge").description == (
        "Handoff surge: 23 chats asked for a human in the last 10 minutes, where about 7.0 usually do."
        " (The usual is this time of day on the 7 days before.)"
    )


def test_five_players_asking_for_a_person_at_night_is_a_surge(players):
    """At 04:30 nobody asks, but against the day's mean (about 2 in ten minutes) five were calm."""
    today = T0.replace(hour=0) + 7 * DAY
    days_of_asking(players, today - 7 * DAY, days=8)

    assert extra_asking(players, today + timedelta(hours=4, minutes=35), 5) == "raised"
    assert active("handoff_surge").description == (
        "Handoff surge: 5 chats asked for a human in the last 10 minutes, where usually none does."
        " (The usual is this time of day on the 7 days before.)"
    )


def test_with_two_days_of_history_a_surge_is_judged_against_the_24_hours_before(players):
    """Two evenings are too few to know this hour's usual: the day before stands in for it."""
    today = T0.replace(hour=0) + 2 * DAY
    days_of_asking(players, today - 2 * DAY, days=3)

    signal = reading("handoff_surge", anomalies_detect(now=today + timedelta(hours=20, minutes=35)))
    assert signal.data["days"] == 0
    assert signal.baseline == pytest.approx(sum(ASKED_PER_HOUR) / 144, abs=0.1)


def test_failures_already_aggregated_in_the_current_hour_do_not_raise_their_own_threshold(players):
    # The chat closed at 10:27 and its hour was aggregated before the 10:30 check: its failures
    # are the window's, not what is usual.
    now = T0 + timedelta(minutes=30)
    chat = bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6).close(180)
    stats_compute_many(conversation_ids=[chat.pk])
    aggregation.aggregate_dirty()

    assert changes(anomalies_detect(now=now)) == {("llm_errors", ""): "raised"}
    assert active("llm_errors").baseline is None


# Only staff close a chat, so the aggregates hold only the chats a human took, and those are
# not the usual ones: players ask for a human after failed or slow answers, or when angry. The
# baseline is read from the same raw rows as the window: every chat, the bot's too.


def reading(kind: str, results) -> Signal:
    (signal,) = [s for s, _event in results if (s.kind, s.key) == (kind, "")]
    return signal


def chats_the_bot_kept(players, now, *, sentiment: Callable[[int], float] | None = None, **answer) -> None:
    """The 24 hours before the window: a chat every 20 minutes, three answers each, never closed."""
    for slot in range(1, 73):
        chat = Chat(players[slot % 5], now - timedelta(minutes=20 * slot), server="s1")
        chat.player(0, "怎么转职", sentiment=sentiment(slot) if sentiment else None)
        chat.bot(2, **answer).bot(20, **answer).bot(40, **answer)


def closed_by_staff(chats: list[Chat]) -> None:
    for chat in chats:
        chat.close(900)
    stats_compute_many(conversation_ids=[chat.pk for chat in chats])
    aggregation.aggregate_dirty()


def sent_to_a_human_after_two_answers(players, alice, now, **answer) -> None:
    """Three chats of the day before in which the player asked for a human after two such
    answers; a human took each and closed it."""
    closed_by_staff(
        [
            Chat(players[4], now - timedelta(hours=hour))
            .player(0, "充值没到账")
            .bot(2, **answer)
            .bot(20, **answer)
            .escalate(30, "player_request")
            .take_over(60, alice)
            .agent(70, alice)
            for hour in (3, 9, 15)
        ]
    )


def test_failures_as_frequent_as_all_day_raise_nothing_though_no_chat_closed(players, now):
    # The provider failed one answer in four all day, in chats nobody closed.
    for slot in range(1, 73):
        chat = Chat(players[slot % 5], now - timedelta(minutes=20 * slot)).player(0, "怎么转职")
        chat.bot(2, ttft_ms=None, status=Message.Status.FAILED).bot(20).bot(40).bot(60)
    bot_answers(players[2], now - timedelta(minutes=8), good=9, failed=3)

    signal = reading("llm_errors", anomalies_detect(now=now))
    assert (signal.abnormal, signal.value, signal.baseline) == (False, 0.25, 0.25)
    assert not Alert.objects.exists()


def test_failures_that_sent_players_to_a_human_do_not_hide_a_surge(players, alice, now):
    chats_the_bot_kept(players, now)
    sent_to_a_human_after_two_answers(players, alice, now, ttft_ms=None, status=Message.Status.FAILED)
    bot_answers(players[2], now - timedelta(minutes=8), good=8, failed=4)

    assert changes(anomalies_detect(now=now)) == {("llm_errors", ""): "raised"}
    assert active("llm_errors").baseline == pytest.approx(6 / 222)


def test_first_tokens_as_slow_as_all_day_raise_nothing(players, now):
    # The model takes 4 s to start: it always has.
    chats_the_bot_kept(players, now, ttft_ms=4000)
    bot_answers(players[2], now - timedelta(minutes=8), good=12, ttft_ms=4000)

    signal = reading("ttft_p95", anomalies_detect(now=now))
    assert (signal.abnormal, signal.value, signal.baseline) == (False, 4000, 4000)
    assert not Alert.objects.exists()


def test_slow_answers_that_sent_players_to_a_human_do_not_hide_a_surge(players, alice, now):
    chats_the_bot_kept(players, now, ttft_ms=800)
    sent_to_a_human_after_two_answers(players, alice, now, ttft_ms=20000)
    bot_answers(players[2], now - timedelta(minutes=8), good=12, ttft_ms=6000)

    assert changes(anomalies_detect(now=now)) == {("ttft_p95", ""): "raised"}
    assert active("ttft_p95").description == (
        "Slow answers: the time to first token p95 is 6.0 s over the last 10 minutes (12 answers), "
        "against 0.8 s over the previous 24 hours."
    )


def angry_players(players, now, *, chats: int, negative: int) -> None:
    for i in range(chats):
        Chat(players[i % 5], now - timedelta(minutes=5), server="s1").player(
            i, "怎么还没好", sentiment=-0.5 if i < negative else 0.2
        )


def test_players_as_grumpy_as_all_day_raise_nothing(players, now):
    # Two chats in five have been negative all day (a hard raid week), in chats nobody closed.
    chats_the_bot_kept(players, now, sentiment=lambda slot: -0.5 if slot % 5 < 2 else 0.2)
    angry_players(players, now, chats=20, negative=8)

    signal = reading("negative_sentiment", anomalies_detect(now=now))
    assert (signal.abnormal, signal.value, signal.baseline) == (False, 0.4, pytest.approx(29 / 72))
    assert not Alert.objects.exists()


def test_angry_players_a_human_took_do_not_hide_a_surge(players, alice, now):
    chats_the_bot_kept(players, now, sentiment=lambda slot: 0.3)
    closed_by_staff(
        [
            Chat(players[4], now - timedelta(hours=hour), server="s1")
            .player(0, "垃圾游戏", sentiment=-0.8)
            .escalate(5, "sentiment")
            .take_over(30, alice)
            .agent(40, alice)
            for hour in (3, 9, 15)
        ]
    )
    angry_players(players, now, chats=12, negative=6)

    assert changes(anomalies_detect(now=now)) == {
        ("negative_sentiment", ""): "raised",
        ("negative_sentiment", "s1"): "raised",
    }
    assert active("negative_sentiment").description == (
        "Unhappy players: 6 of 12 active chats are negative in the last 10 minutes (50%), against 4% usually."
    )


def queued_all_day(players, alice, now, *, taken: float, answered: float) -> list[Chat]:
    """A chat every other hour of the day before, in the queue from its 10th second: a human
    took it at `taken` seconds and wrote at `answered`."""
    return [
        Chat(players[0], now - timedelta(hours=hour))
        .player(0, "人工客服")
        .escalate(10)
        .take_over(taken, alice)
        .agent(answered, alice)
        for hour in range(1, 24, 2)
    ]


def test_a_wait_as_long_as_all_day_raises_nothing_though_agents_also_step_in_at_once(players, alice, now):
    # Players waited 10 minutes for a human all day (a small team); agents also stepped into
    # many chats on their own and wrote at once. Those chats never waited in the queue.
    queued = queued_all_day(players, alice, now, taken=610, answered=620)
    stepped_in = [
        Chat(players[1], now - timedelta(minutes=20 * slot)).player(0, "卡住了").take_over(20, alice).agent(30, alice)
        for slot in range(1, 73)
    ]
    closed_by_staff(queued + stepped_in)
    Chat(players[4], now - timedelta(minutes=13)).player(0, "人工客服").escalate(60)  # waited 12 min

    signal = reading("queue_wait", anomalies_detect(now=now))
    assert (signal.abnormal, signal.value, signal.baseline) == (False, 720, 600)
    assert not Alert.objects.exists()


def test_agents_slow_to_write_do_not_hide_a_long_queue(players, alice, now):
    # All day a human took each queued chat within a minute, then looked into the case for ten
    # minutes before writing: the first response is not the wait.
    closed_by_staff(queued_all_day(players, alice, now, taken=60, answered=660))
    Chat(players[4], now - timedelta(minutes=21)).player(0, "人工客服").escalate(60)  # waited 20 min

    assert changes(anomalies_detect(now=now)) == {("queue_wait", ""): "raised"}
    assert active("queue_wait").description == (
        "Long queue: 1 player is waiting for a human and has waited 20.0 min "
        "(players usually wait 0.8 min before one takes their chat)."
    )


def test_a_long_queue_after_a_day_nobody_was_taken_from_it_says_so(players, now):
    Chat(players[4], now - timedelta(minutes=21)).player(0, "人工客服").escalate(60)

    assert changes(anomalies_detect(now=now)) == {("queue_wait", ""): "raised"}
    assert active("queue_wait").description == (
        "Long queue: 1 player is waiting for a human and has waited 20.0 min "
        "(nobody was taken from the queue in the previous 24 hours)."
    )


def test_the_baseline_is_read_again_once_its_day_has_moved_ten_minutes_on(normal_day, players, now):
    """A day of rows is read at most every ten minutes per process, not on every run."""
    from analytics.services.anomalies import BASELINE_REUSE

    def error_baseline(at):
        return next(s.baseline for s, _ in anomalies_detect(now=at) if s.kind == "llm_errors")

    assert error_baseline(now) == 0.0
    # Twelve failures an hour ago make the previous day worse; the day read a minute ago stands.
    bot_answers(players[2], now - timedelta(hours=1), good=0, failed=12)
    assert error_baseline(now + timedelta(minutes=1)) == 0.0
    # Ten minutes on, the day is read again, with them: 12 failed of some 150 answers.
    assert error_baseline(now + BASELINE_REUSE + timedelta(minutes=1)) == pytest.approx(0.08)


def test_an_llm_outage_at_a_quiet_hour_stays_one_alert_until_answers_succeed_again(normal_day, players, now):
    """A two-hour outage read "raised", "cleared" and "raised" again: ten minutes with few
    answers, most failing, read as normal."""
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    assert changes(anomalies_detect(now=now)) == {("llm_errors", ""): "raised"}

    quiet = now + timedelta(minutes=12)
    bot_answers(players[3], quiet - timedelta(minutes=6), good=1, failed=3)  # too few to tell
    assert changes(anomalies_detect(now=quiet)) == {}
    assert active("llm_errors") is not None

    back = quiet + timedelta(minutes=12)
    bot_answers(players[4], back - timedelta(minutes=6), good=12)
    assert changes(anomalies_detect(now=back)) == {("llm_errors", ""): "cleared"}


def test_two_failed_answers_of_ten_in_an_outage_keep_its_alert(normal_day, players, now):
    """Replaying a generated two-hour outage at a quiet hour read "raised", "cleared", "raised":
    two failures of ten (20%, twice the threshold) were too few to raise the alert, and so
    read as a recovery."""
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    assert changes(anomalies_detect(now=now)) == {("llm_errors", ""): "raised"}

    quiet = now + timedelta(minutes=12)
    bot_answers(players[3], quiet - timedelta(minutes=6), good=8, failed=2)
    assert changes(anomalies_detect(now=quiet)) == {}
    bot_answers(players[4], quiet - timedelta(minutes=2), good=0, failed=1)  # and the third
    assert changes(anomalies_detect(now=quiet + timedelta(minutes=1))) == {}
    assert Alert.objects.filter(kind="llm_errors").count() == 1

    back = quiet + timedelta(minutes=12)
    bot_answers(players[0], back - timedelta(minutes=6), good=12)
    assert changes(anomalies_detect(now=back)) == {("llm_errors", ""): "cleared"}


def test_an_outage_that_goes_on_keeps_its_alert_though_its_failures_enter_the_24_hours_before(normal_day, players, now):
    """The baseline is the 24 hours before the window: as an outage went on, its own failures
    lifted its threshold until a window at the outage's rate read normal and cleared the alert."""
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    assert changes(anomalies_detect(now=now)) == {("llm_errors", ""): "raised"}

    seen = []
    for minute in range(1, 61):  # a quarter of the answers fail, four a minute, for an hour
        at = now + timedelta(minutes=minute)
        bot_answers(players[minute % 5], at - timedelta(seconds=61), good=3, failed=1)
        seen += [f"{minute} {event}" for event in changes(anomalies_detect(now=at)).values()]
    assert seen == []
    assert active("llm_errors").threshold == pytest.approx(0.1)

    back = now + timedelta(minutes=72)
    bot_answers(players[0], back - timedelta(minutes=6), good=12)
    assert changes(anomalies_detect(now=back)) == {("llm_errors", ""): "cleared"}


def test_an_llm_alert_with_no_answers_to_read_for_half_an_hour_is_cleared(normal_day, players, now):
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    anomalies_detect(now=now)

    assert changes(anomalies_detect(now=now + timedelta(minutes=29))) == {}
    assert changes(anomalies_detect(now=now + timedelta(minutes=30))) == {("llm_errors", ""): "cleared"}


def test_one_failed_answer_in_a_quiet_ten_minutes_is_no_llm_alert(normal_day, players, now):
    """1 of 10 is the 10% floor: a night's single timeout was posted to the ops team as an outage."""
    bot_answers(players[2], now - timedelta(minutes=8), good=9, failed=1)
    assert changes(anomalies_detect(now=now)) == {}

    bot_answers(players[3], now - timedelta(minutes=7), good=0, failed=3)  # four of thirteen: that is news
    assert changes(anomalies_detect(now=now + timedelta(seconds=30))) == {("llm_errors", ""): "raised"}


def test_three_failed_answers_in_a_busy_ten_minutes_are_chance_not_an_outage(normal_day, players, now):
    """3 of 19 is over the 10% floor, and at the usual rate came about once a day at 1,000 chats:
    it raised the alert before any outage. An outage's rate raises it at once."""
    bot_answers(players[2], now - timedelta(minutes=9), good=16, failed=3)
    assert changes(anomalies_detect(now=now)) == {}

    bot_answers(players[3], now - timedelta(minutes=2), good=3, failed=3)  # six of twenty-five
    assert changes(anomalies_detect(now=now + timedelta(seconds=30))) == {("llm_errors", ""): "raised"}


def test_a_handoff_surge_hovering_at_its_threshold_is_one_alert(normal_day, players, now):
    """Five escalations in ten minutes one minute, two the next: the ops team read "raised" and
    "cleared" three times in one outage. A raised surge stays while players ask for a person more
    than usual, and clears after half an hour at the usual."""

    def ask_for_a_person(at: datetime, players_asking: int) -> None:
        for i in range(players_asking):
            Chat(players[i % 5], at).player(0, "转人工").escalate(i, "player_request")

    def surge(at: datetime) -> str | None:
        return changes(anomalies_detect(now=at)).get(("handoff_surge", ""))  # (the queue has its own alert)

    ask_for_a_person(now - timedelta(minutes=9, seconds=30), 5)
    assert surge(now) == "raised"
    # Two a window, under the threshold of five but above the usual: the outage goes on.
    for minute in range(10, 70, 10):
        ask_for_a_person(now + timedelta(minutes=minute - 5), 2)
        assert [surge(now + timedelta(minutes=minute - step)) for step in range(5, -1, -1)] == [None] * 6

    # From then on one every twelve minutes, the usual: half an hour after the last window that
    # held two (minute 65, from the two at minute 55), the surge is over.
    for minute in range(61, 95):
        if minute % 12 == 0:
            ask_for_a_person(now + timedelta(minutes=minute), 1)
        assert surge(now + timedelta(minutes=minute)) is None, minute
    assert surge(now + timedelta(minutes=95)) == "cleared"


def test_an_llm_outage_at_a_quiet_hour_is_read_over_as_many_minutes_as_it_takes(normal_day, players, now):
    """Six answers in ten minutes, most failing, for two hours: no window of ten minutes had the
    ten answers a reading needs, and the outage raised nothing."""
    for minutes_ago in (28, 18, 8):
        bot_answers(players[2], now - timedelta(minutes=minutes_ago), good=1, failed=3)

    assert changes(anomalies_detect(now=now)) == {("llm_errors", ""): "raised"}
    assert active("llm_errors").description == (
        "LLM errors: 9 of 12 bot answers failed in the last 30 minutes (75%), against 0% over the previous 24 hours."
    )


def test_an_unreachable_webhook_leaves_its_robot_key_out_of_the_log(
    normal_day, players, now, settings, caplog, django_capture_on_commit_callbacks
):
    """A WeCom robot's URL carries its key: whoever reads the log could post to the ops chat."""
    from tests.servers import free_port

    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{free_port()}/cgi-bin/webhook/send?key=wecom-robot-5e1f"
    bot_answers(players[2], now - timedelta(minutes=8), good=6, failed=6)
    with django_capture_on_commit_callbacks(execute=True):
        anomalies_detect(now=now)

    assert "webhook failed: webhook unreachable: ConnectionError" in caplog.text
    assert "Connection refused" in caplog.text
    assert "wecom-robot-5e1f" not in caplog.text and "/cgi-bin/webhook/send" not in caplog.text
