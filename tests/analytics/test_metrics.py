"""The metrics of a small known day, computed by the close task and read by a manager.

The day (T0 = Monday 10:00 UTC):
- A  player 1, recharge, server s1: three turns with the bot, closed after 5 min, rated 5.
- B  player 2, ban_appeal, server s2: the bot fails, the chat is escalated (upstream_error),
     Alice takes over 60 s later and answers 30 s after that, closes at 400 s, rated 4.
- C  player 3, lost_item, closed by the bot at 11:05 ... and D, player 3 again at 16:05 with
     lost_item: C did not really resolve anything.
- E  player 4, events, then F, player 4 with a different intent (refund): both resolved.
- G  player 5 opened the page and never wrote: not a support request.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.hooks import csat_record
from analytics.models import Aggregate, ConversationStats
from analytics.services import aggregation, resolution
from analytics.services.stats import stats_compute_many
from analytics.tasks import aggregate_recent, conversation_closed, on_conversation_closed
from chat.models import Message
from tests.analytics.conftest import T0
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db

RANGE = "?start=2025-03-03&end=2025-03-04"


@pytest.fixture
def day(players, alice, django_capture_on_commit_callbacks):
    p1, p2, p3, p4, p5 = players
    a = (
        Chat(p1, T0, intent="recharge", server="s1")
        .player(0, "充值没到账", sentiment=-0.6)
        .bot(2, ttft_ms=800, prompt_tokens=100, completion_tokens=40)
        .player(60, "订单号 123", sentiment=-0.2)
        .bot(62, ttft_ms=1200, prompt_tokens=150, completion_tokens=60)
        .player(120, "到了，谢谢", sentiment=0.4)
        .bot(122, ttft_ms=1000, prompt_tokens=200, completion_tokens=20)
        .close(300)
    )
    b = (
        Chat(p2, T0 + timedelta(minutes=30), intent="ban_appeal", server="s2")
        .player(0, "为什么封我号", sentiment=-0.8)
        .bot(3, ttft_ms=None, status=Message.Status.FAILED, prompt_tokens=0, completion_tokens=0)
        .escalate(10, "upstream_error")
        .take_over(70, alice)
        .note(80, alice, "checking the ban log")
        .agent(100, alice)
        .close(400, by=alice)
    )
    c = Chat(p3, T0 + timedelta(hours=1), intent="lost_item").player(0, "装备不见了").bot(5, ttft_ms=600).close(300)
    d = (
        Chat(p3, T0 + timedelta(hours=6), intent="lost_item")
        .player(0, "装备还是没找回")
        .bot(5, ttft_ms=3000)
        .close(600)
    )
    e = Chat(p4, T0 + timedelta(hours=2), intent="events").player(0, "活动什么时候开始").bot(4, ttft_ms=700).close(180)
    f = Chat(p4, T0 + timedelta(hours=4), intent="refund").player(0, "怎么退款").bot(4, ttft_ms=900).close(600)
    g = Chat(p5, T0 + timedelta(hours=3)).close(60)
    chats = {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}
    with django_capture_on_commit_callbacks(execute=True):
        for chat in chats.values():
            on_conversation_closed(chat.pk)  # eager Celery on the embedded default: runs here
    csat_record(conversation_id=a.pk, score=5, comment="快")
    csat_record(conversation_id=b.pk, score=4)
    return chats


def settle(days_later: int = 3) -> None:
    resolution.resolution_update(now=T0 + timedelta(days=days_later))
    aggregation.aggregate_dirty()


def test_a_bot_conversation_records_duration_turns_ttft_tokens_and_sentiment(day):
    stats = ConversationStats.objects.get(pk=day["a"].pk)

    assert stats.duration_s == 300
    assert stats.turns == 3
    assert stats.bot_answers == 3 and stats.bot_failures == 0
    assert stats.ttft_ms_values == [800, 1200, 1000]
    assert (stats.ttft_avg_ms, stats.ttft_p50_ms, stats.ttft_max_ms) == (1000, 1000, 1200)
    assert (stats.prompt_tokens, stats.completion_tokens) == (450, 120)
    assert (stats.sentiment_first, stats.sentiment_last, stats.sentiment_min) == (-0.6, 0.4, -0.6)
    assert stats.intent == "recharge" and stats.intents == ["recharge"] and stats.server == "s1"
    assert stats.handed_off is False and stats.agent is None and stats.first_response_s is None
    assert stats.csat_score == 5
    # T0 is long past: the 24 h without a return were over when the close was computed.
    assert stats.resolution == "bot"


def test_a_handed_off_conversation_records_reason_first_response_and_handle_time(day, alice):
    stats = ConversationStats.objects.get(pk=day["b"].pk)

    assert stats.handed_off is True and stats.handoff_reason == "upstream_error"
    assert stats.escalated_at == T0 + timedelta(minutes=30, seconds=10)
    assert stats.agent == alice
    assert stats.first_response_s == 90  # escalated at 10 s, the note at 80 s is internal, first answer at 100 s
    assert stats.handle_time_s == 330  # taken over at 70 s, closed at 400 s
    assert stats.bot_answers == 1 and stats.bot_failures == 1 and stats.ttft_ms_values == []
    assert stats.resolution == "handed_off"
    assert stats.csat_score == 4


def test_closing_the_same_conversation_twice_stores_one_identical_row(day):
    before = ConversationStats.objects.values().get(pk=day["a"].pk)
    conversation_closed(day["a"].pk)
    after = ConversationStats.objects.values().get(pk=day["a"].pk)

    assert ConversationStats.objects.filter(pk=day["a"].pk).count() == 1
    assert {k: v for k, v in before.items() if k != "computed_at"} == {
        k: v for k, v in after.items() if k != "computed_at"
    }


def test_three_days_later_each_chat_has_its_honest_outcome(day):
    settle()
    outcome = dict(ConversationStats.objects.values_list("conversation_id", "resolution"))

    assert outcome == {
        day["a"].pk: "bot",
        day["b"].pk: "handed_off",
        day["c"].pk: "returned",
        day["d"].pk: "bot",
        day["e"].pk: "bot",
        day["f"].pk: "bot",
        day["g"].pk: "empty",
    }


def test_the_day_aggregate_adds_up_the_known_numbers(day):
    settle()
    row = Aggregate.objects.get(period="day", dimension="all", key="")

    assert row.bucket == T0.replace(hour=0)
    assert (row.conversations, row.bot_resolved, row.returned, row.pending, row.handed_off) == (6, 4, 1, 0, 1)
    assert (row.bot_answers, row.bot_failures, row.ttft_count) == (8, 1, 7)
    assert (row.csat_count, row.csat_sum, row.csat_hist) == (2, 9, [0, 0, 0, 1, 1])
    assert (row.first_response_count, row.first_response_sum_s, row.handle_count, row.handle_sum_s) == (1, 90, 1, 330)
    hours = Aggregate.objects.filter(period="hour", dimension="all")
    assert sum(h.conversations for h in hours) == 6
    assert Aggregate.objects.get(period="day", dimension="reason").key == "upstream_error"


def test_the_overview_shows_a_manager_the_known_figures(day, client, mia):
    settle()
    client.force_login(mia)
    page = client.get("/analytics/" + RANGE)

    assert page.status_code == 200
    kpis = page.context["kpis"]
    assert kpis["conversations"] == 6
    assert kpis["bot_resolution_rate"] == pytest.approx(4 / 6)  # A, D, E, F of A, B, C, D, E, F
    assert kpis["handoff_rate"] == pytest.approx(1 / 6)
    assert kpis["csat_avg"] == 4.5 and kpis["csat_count"] == 2
    assert (kpis["ttft_p50_ms"], kpis["ttft_p95_ms"]) == (900, 3000)  # of 600 700 800 900 1000 1200 3000
    assert kpis["llm_error_rate"] == pytest.approx(1 / 8)
    html = page.content.decode()
    assert "66.7%" in html and "16.7%" in html and "4.50" in html
    assert "The LLM failed" in html  # the handoff reason upstream_error, in words
    in_chinese = client.get("/analytics/" + RANGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "大模型出错" in in_chinese


def test_the_overview_csv_has_one_row_per_day_with_the_known_figures(day, client, mia):
    settle()
    client.force_login(mia)
    response = client.get("/analytics/?start=2025-03-02&end=2025-03-08&format=csv")

    assert response["Content-Type"].startswith("text/csv")
    assert "csbot-overview-2025-03-02-2025-03-08.csv" in response["Content-Disposition"]
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("bucket,conversations,bot_resolved,returned,pending,handed_off")
    assert len(lines) == 1 + 7
    assert lines[1] == "2025-03-02,0,0,0,0,0,,,,0,,"
    assert lines[2] == "2025-03-03,6,4,1,0,1,0.6667,0.1667,4.5,2,900.0,3000.0"


def test_the_intents_page_breaks_the_day_down_by_intent(day, client, mia):
    settle()
    client.force_login(mia)
    rows = {key: k for key, _label, k, _share in client.get("/analytics/intents/" + RANGE).context["rows"]}

    assert {key: k["conversations"] for key, k in rows.items()} == {
        "recharge": 1, "ban_appeal": 1, "lost_item": 2, "events": 1, "refund": 1,
    }  # fmt: skip
    assert rows["lost_item"]["bot_resolution_rate"] == 0.5
    assert rows["ban_appeal"]["handoff_rate"] == 1.0


def test_the_agents_page_shows_alices_chats_first_response_handle_time_and_csat(day, client, mia):
    settle()
    client.force_login(mia)
    page = client.get("/analytics/agents/" + RANGE)

    ((name, k),) = page.context["rows"]
    assert name == "Alice"
    assert (k["conversations"], k["first_response_avg_s"], k["handle_avg_s"], k["csat_avg"]) == (1, 90, 330, 4)
    html = page.content.decode()
    assert "1 min 30 s" in html and "5 min 30 s" in html


def test_the_agents_page_counts_the_chats_nobody_took_and_how_long_their_players_waited(day, client, mia):
    """A player who asked for a person and gave up, and one closed from the queue, were on no
    agent's row: the page read as if every player who asked got someone."""
    p1, p2 = day["a"].conversation.player, day["b"].conversation.player
    gave_up = Chat(p1, T0 + timedelta(hours=5), intent="refund").player(0, "转人工").escalate(5)
    gave_up.event(125, "handed_back", reason="player").player(130, "算了").bot(132).close(300)  # waited 2 min
    closed_waiting = Chat(p2, T0 + timedelta(hours=7)).player(0, "人工").escalate(10).close(490)  # waited 8 min
    stats_compute_many(conversation_ids=[gave_up.pk, closed_waiting.pk])
    settle()
    client.force_login(mia)

    page = client.get("/analytics/agents/" + RANGE)
    ((name, alice),) = page.context["rows"]
    assert (name, alice["conversations"], alice["queue_wait_avg_s"]) == ("Alice", 1, 60)
    assert (page.context["untaken"]["conversations"], page.context["untaken"]["queue_wait_avg_s"]) == (2, 300)
    untaken = _text(page, "agents-untaken")
    assert untaken.split() == ["Not", "taken", "by", "anyone", "2", "–", "–", "5", "min", "00", "s", "–", "0"]
    assert "no agent took" in _text(page, "agents-counted")

    csv = client.get("/analytics/agents/" + RANGE + "&format=csv").content.decode("utf-8-sig").splitlines()
    assert csv[0].startswith("agent,chats_handled,first_response_avg_s,handle_avg_s,queue_wait_avg_s,")
    assert csv[-1] == ",2,,,300.0,,0"

    chinese = client.get("/analytics/agents/" + RANGE, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert _text(chinese, "agents-untaken").split()[:2] == ["无人接手", "2"]


def test_after_the_upgrade_the_chats_nobody_took_before_it_are_counted_with_their_wait(day, client, mia):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("analytics.migrations.0006_queue_wait")
    closed_waiting = Chat(day["b"].conversation.player, T0 + timedelta(hours=7)).player(0, "人工").escalate(10)
    stats_compute_many(conversation_ids=[closed_waiting.close(490).pk])
    settle()
    # As the version before left them: no wait, and no agent row for the chats nobody took.
    ConversationStats.objects.update(queue_wait_s=None)
    Aggregate.objects.filter(dimension="agent", key="").delete()

    migration.untaken_backfill(apps, None)
    aggregation.aggregate_dirty()
    client.force_login(mia)

    untaken = client.get("/analytics/agents/" + RANGE).context["untaken"]
    assert (untaken["conversations"], untaken["queue_wait_avg_s"]) == (1, 480)


def _text(page, testid: str) -> str:
    import re

    html = page.content.decode()
    found = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    return re.sub(r"<[^>]+>", " ", found.group(2))


def test_the_sentiment_page_shows_first_and_last_sentiment_per_server(day, client, mia):
    settle()
    client.force_login(mia)
    servers = dict(client.get("/analytics/sentiment/" + RANGE).context["servers"])

    assert servers["s1"]["sentiment_first_avg"] == -0.6 and servers["s1"]["sentiment_last_avg"] == 0.4
    assert servers["s1"]["improved_share"] == 1.0
    assert servers["s2"]["negative_share"] == 1.0


def test_a_rating_after_the_stats_updates_the_aggregates(day, client, mia):
    settle()
    csat_record(conversation_id=day["e"].pk, score=1, comment="没用")
    aggregation.aggregate_dirty()
    client.force_login(mia)

    kpis = client.get("/analytics/" + RANGE).context["kpis"]
    assert kpis["csat_count"] == 3 and kpis["csat_avg"] == pytest.approx(10 / 3)


def test_a_rating_outside_one_to_five_is_refused(day):
    from analytics.hooks import CsatError

    with pytest.raises(CsatError):
        csat_record(conversation_id=day["a"].pk, score=6)
    assert ConversationStats.objects.get(pk=day["a"].pk).csat_score == 5


def test_a_chat_requeued_when_its_agent_left_counts_only_the_time_a_human_held_it(players, alice, bob):
    chat = (
        Chat(players[0], T0, intent="recharge")
        .player(0, "充值没到账")
        .escalate(5)
        .take_over(10, alice)
        .event(110, "requeued", reason="agent_left", actor=alice)  # Alice's dashboard was gone
        .take_over(500, bob)
        .agent(510, bob)
        .close(600, by=bob)
    )
    conversation_closed(chat.pk)
    stats = ConversationStats.objects.get(pk=chat.pk)
    assert stats.handle_time_s == 200  # Alice 10-110 s, Bob 500-600 s: not the 390 s in the queue


def answers_on(day: int, ttfts: list[int], players) -> None:
    """One closed chat per answer, on the day'th day after T0, each answer's first token after `ttft` ms."""
    for i, ttft in enumerate(ttfts):
        start = T0 + timedelta(days=day, minutes=i)
        chat = Chat(players[i % 5], start, intent="recharge").player(0, "充值没到账").bot(2, ttft_ms=ttft).close(60)
        conversation_closed(chat.pk)


def test_the_time_to_first_token_p50_moves_with_the_answers_not_in_steps(players, client, mia):
    # Monday's answers start in 810-850 ms, Tuesday's in 850-890: the p50 a manager reads
    # is each day's own median, not 900 ms both days.
    answers_on(0, [810, 815, 822, 826, 830, 836, 841, 845, 850], players)
    answers_on(1, [852, 858, 861, 866, 870, 874, 880, 885, 890], players)
    settle()
    client.force_login(mia)

    page = client.get("/analytics/?start=2025-03-03&end=2025-03-09")

    p50 = {label: k["ttft_p50_ms"] for label, k in page.context["points"]}
    assert p50 == {"2025-03-03": 830, "2025-03-04": 870}
    assert page.context["kpis"]["ttft_p50_ms"] == 850
    assert "850 ms" in page.content.decode()


def test_a_day_aggregated_before_the_finer_bins_still_reads_its_time_to_first_token(db, client, mia):
    # Written as a list of counts per bin of the first edges: five answers in 800-900 ms, one in 2.5-3 s.
    first_bins = [0] * 30
    first_bins[8], first_bins[16] = 5, 1
    Aggregate.objects.create(
        period="day", bucket=T0.replace(hour=0), dimension="all", conversations=6, ttft_count=6, ttft_hist=first_bins
    )
    client.force_login(mia)

    kpis = client.get("/analytics/?start=2025-03-03&end=2025-03-09").context["kpis"]

    # Such a row knew no more than the bin: its answers read at its upper edge, as they did.
    assert 890 < kpis["ttft_p50_ms"] <= 900
    assert kpis["ttft_p95_ms"] == 3000


def test_after_time_zone_changes_the_days_counted_before_still_show(day, client, mia, settings, monkeypatch):
    # Counted in Shanghai's days first: Monday 18:00 to Tuesday 00:05 there.
    settings.TIME_ZONE = "Asia/Shanghai"
    settle()
    assert Aggregate.objects.filter(period="day", dimension="all").count() == 2
    # The deployment moves to UTC and restarts; beat brings the figures up to date.
    settings.TIME_ZONE = "UTC"
    monkeypatch.setattr(aggregation, "_zone_checked", None, raising=False)  # a new process
    aggregate_recent()
    client.force_login(mia)

    page = client.get("/analytics/?start=2025-03-03&end=2025-03-09")

    assert [(label, k["conversations"]) for label, k in page.context["points"]] == [("2025-03-03", 6)]
    assert page.context["kpis"]["conversations"] == 6
    intents = client.get("/analytics/intents/?start=2025-03-03&end=2025-03-03").context["rows"]
    assert sum(k["conversations"] for _key, _label, k, _share in intents) == 6
