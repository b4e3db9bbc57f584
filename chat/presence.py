"""Agent presence and capacity.

An agent is online when their chosen status is `online`, at least one staff
socket of theirs is open (on any process) and one was heard from lately: a
process that dies cannot decrement its sockets, so `last_seen` must be fresh too
(the dashboard pings every 25 s). Each agent holds at most `max_chats` chats.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from chat.models import AgentProfile, Conversation
from chat.roles import AGENT, MANAGER, display_name

# A ping refreshes last_seen at most this often, so that pings cost no write.
SEEN_WRITE_SECONDS = 20


def profile_for(user) -> AgentProfile:
    profile, _ = AgentProfile.objects.get_or_create(user=user, defaults={"max_chats": settings.AGENT_MAX_CHATS})
    return profile


def presence_connect(*, user) -> None:
    profile_for(user)
    AgentProfile.objects.filter(user=user).update(sockets=F("sockets") + 1, last_seen=timezone.now())


def presence_disconnect(*, user) -> None:
    AgentProfile.objects.filter(user=user, sockets__gt=0).update(sockets=F("sockets") - 1, last_seen=timezone.now())


def presence_seen(*, user) -> None:
    now = timezone.now()
    AgentProfile.objects.filter(user=user, last_seen__lt=now - timedelta(seconds=SEEN_WRITE_SECONDS)).update(
        last_seen=now
    )


def presence_set_status(*, user, status: str) -> None:
    if status not in AgentProfile.Status.values:
        raise ValueError(f"unknown status {status!r}")
    profile_for(user)
    AgentProfile.objects.filter(user=user).update(status=status, last_seen=timezone.now())


def _held() -> Count:
    return Count("user__assigned_conversations", filter=Q(user__assigned_conversations__state=Conversation.State.HUMAN))


def online_profiles() -> QuerySet[AgentProfile]:
    fresh = timezone.now() - timedelta(seconds=settings.AGENT_PRESENCE_SECONDS)
    return AgentProfile.objects.filter(
        status=AgentProfile.Status.ONLINE, sockets__gt=0, last_seen__gte=fresh, user__is_active=True
    )


def is_online(profile: AgentProfile | None) -> bool:
    """online_profiles()'s test for one profile already read (or locked)."""
    fresh = timezone.now() - timedelta(seconds=settings.AGENT_PRESENCE_SECONDS)
    return bool(
        profile
        and profile.status == AgentProfile.Status.ONLINE
        and profile.sockets > 0
        and profile.last_seen
        and profile.last_seen >= fresh
    )


def absent_for(seconds: float) -> Q:
    """AgentProfile rows of agents gone at least `seconds`: not there (no dashboard open, or
    none heard from within AGENT_PRESENCE_SECONDS) and last heard from before then.

    Their status does not count: an agent "away" with the dashboard open is still there
    for the chats they hold, only not taking new ones. A disconnect writes last_seen, so
    for a closed dashboard the time counts from the close.
    """
    now = timezone.now()
    gone = Q(sockets=0) | Q(last_seen__lt=now - timedelta(seconds=settings.AGENT_PRESENCE_SECONDS))
    return gone & (Q(last_seen__isnull=True) | Q(last_seen__lt=now - timedelta(seconds=seconds)))


def any_agent_online() -> bool:
    return online_profiles().exists()


def chats_held(user) -> int:
    return Conversation.objects.filter(assignee=user, state=Conversation.State.HUMAN).count()


def least_busy_agent():
    """The online agent with the fewest chats and room for one more, or None."""
    profile = (
        online_profiles()
        .annotate(held=_held())
        .filter(held__lt=F("max_chats"))
        .select_related("user")
        .order_by("held", "last_seen", "pk")
        .first()
    )
    return profile.user if profile else None


def staff_users() -> QuerySet:
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=(AGENT, MANAGER)))
        .distinct()
    )


def roster() -> list[dict[str, Any]]:
    """Every staff member with presence and load: the dashboard's agent list and transfer targets."""
    users = staff_users().select_related("agent_profile").order_by("first_name", "username")
    held = dict(
        Conversation.objects.filter(state=Conversation.State.HUMAN, assignee__isnull=False)
        .values_list("assignee")
        .annotate(n=Count("pk"))
        .values_list("assignee", "n")
    )
    out = []
    for user in users:
        profile = getattr(user, "agent_profile", None)
        online = is_online(profile)
        out.append(
            {
                "id": user.pk,
                "name": display_name(user),
                "status": profile.status if profile else AgentProfile.Status.ONLINE,
                "online": online,
                "chats": held.get(user.pk, 0),
                "max_chats": profile.max_chats if profile else settings.AGENT_MAX_CHATS,
            }
        )
    return out
