"""Bot resolution is honest: a chat the bot closed only counts as resolved when the
player did not come back with the same intent within 24 hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import ConversationStats
from analytics.services import aggregation, resolution
from analytics.services.stats import stats_compute
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_an_hour_ago(players):
    """Player 1 asked about a missing recharge; the bot answered and the chat closed an hour ago."""
    start = timezone.now() - timedelta(hours=1, minutes=5)
    chat = Chat(players[0], start, intent="recharge").player(0, "充值没到账").bot(3).close(300)
    stats_compute(conversation_id=chat.pk)
    return chat


def outcome(chat: Chat) -> str:
    return ConversationStats.objects.get(pk=chat.pk).resolution


def test_a_chat_the_bot_closed_is_pending_until_its_24_hours_have_passed(closed_an_hour_ago):
    assert outcome(closed_an_hour_ago) == "pending"

    resolution.resolution_update(now=timezone.now() + timedelta(hours=22))
    assert outcome(closed_an_hour_ago) == "pending"

    resolution.resolution_update(now=timezone.now() + timedelta(hours=23, minutes=1))
    assert outcome(closed_an_hour_ago) == "bot"


def test_coming_back_with_the_same_intent_within_24_hours_is_not_resolved(closed_an_hour_ago, players):
    again = Chat(players[0], timezone.now() - timedelta(minutes=10), intent="recharge").player(0, "还是没到账")
    again.bot(3).close(60)
    stats_compute(conversation_id=again.pk)  # the close of the second chat looks back at the first

    assert outcome(closed_an_hour_ago) == "returned"
    resolution.resolution_update(now=timezone.now() + timedelta(days=2))
    assert outcome(closed_an_hour_ago) == "returned"


def test_a_return_still_open_counts_when_the_window_is_settled(closed_an_hour_ago, players):
    Chat(players[0], timezone.now() - timedelta(minutes=10), intent="recharge").player(0, "还是没到账")

    resolution.resolution_update(now=timezone.now() + timedelta(days=2))
    assert outcome(closed_an_hour_ago) == "returned"


def test_coming_back_with_another_intent_does_not_undo_the_resolution(closed_an_hour_ago, players):
    other = Chat(players[0], timezone.now() - timedelta(minutes=10), intent="ban_appeal").player(0, "我被封号了")
    other.bot(3).close(60)
    stats_compute(conversation_id=other.pk)

    resolution.resolution_update(now=timezone.now() + timedelta(days=2))
    assert outcome(closed_an_hour_ago) == "bot"


def test_coming_back_after_24_hours_does_not_undo_the_resolution(players):
    start = timezone.now() - timedelta(days=3)
    first = Chat(players[0], start, intent="recharge").player(0, "充值没到账").bot(3).close(300)
    stats_compute(conversation_id=first.pk)
    Chat(players[0], start + timedelta(hours=25), intent="recharge").player(0, "又没到账").bot(3).close(60)

    resolution.resolution_update()
    assert outcome(first) == "bot"


def test_an_unknown_intent_on_the_return_counts_against_the_bot(closed_an_hour_ago, players):
    Chat(players[0], timezone.now() - timedelta(minutes=10)).player(0, "在吗")

    resolution.resolution_update(now=timezone.now() + timedelta(days=2))
    assert outcome(closed_an_hour_ago) == "returned"


def test_opening_the_page_again_without_writing_is_not_a_return(closed_an_hour_ago, players):
    Chat(players[0], timezone.now() - timedelta(minutes=10))  # no player message

    resolution.resolution_update(now=timezone.now() + timedelta(days=2))
    assert outcome(closed_an_hour_ago) == "bot"


def test_another_player_with_the_same_intent_is_not_a_return(closed_an_hour_ago, players):
    Chat(players[1], timezone.now() - timedelta(minutes=10), intent="recharge").player(0, "充值没到账")

    resolution.resolution_update(now=timezone.now() + timedelta(days=2))
    assert outcome(closed_an_hour_ago) == "bot"


def test_a_chat_a_human_joined_is_never_resolved_by_the_bot(players, alice):
    start = timezone.now() - timedelta(days=3)
    chat = Chat(players[0], start, intent="refund").player(0, "退款").bot(3).take_over(30, alice).agent(40, alice)
    chat.close(200, by=alice)
    stats_compute(conversation_id=chat.pk)

    resolution.resolution_update()
    assert outcome(chat) == "handed_off"


def test_the_overview_rate_leaves_out_chats_closed_within_the_last_24_hours(players, alice, client, mia):
    # Three days ago the bot resolved one chat; an hour ago a human took one. Counting the
    # recent handoff (final at once) without the recent bot chats (final tomorrow) would
    # show 50%: the page shows 100% of the one settled chat.
    old = Chat(players[0], timezone.now() - timedelta(days=3), intent="events").player(0, "活动").bot(3).close(60)
    recent = Chat(players[1], timezone.now() - timedelta(hours=1), intent="refund").player(0, "退款")
    recent.escalate(10).take_over(20, alice).agent(30, alice).close(90, by=alice)
    for chat in (old, recent):
        stats_compute(conversation_id=chat.pk)
    aggregation.aggregate_dirty()
    client.force_login(mia)

    kpis = client.get("/analytics/?start=" + (timezone.localdate() - timedelta(days=6)).isoformat()).context["kpis"]
    assert (kpis["conversations"], kpis["bot_resolution_rate"], kpis["resolution_judged"]) == (2, 1.0, 1)
    assert kpis["handoff_rate"] == 0.5
