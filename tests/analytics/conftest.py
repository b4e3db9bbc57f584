"""The analytics cast: Alice and Bob are agents, Mia is the manager, Root a superuser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User

from chat.models import Player

# A Monday morning, far from any real clock, in UTC (the embedded TIME_ZONE).
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def _user(username: str, group: str | None = None, **extra) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, first_name=username.title(), **extra)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def alice(db) -> User:
    return _user("alice", "agent")


@pytest.fixture
def bob(db) -> User:
    return _user("bob", "agent")


@pytest.fixture
def mia(db) -> User:
    return _user("mia", "manager")


@pytest.fixture
def root(db) -> User:
    return _user("root", is_superuser=True, is_staff=True)


@pytest.fixture
def players(db) -> list[Player]:
    return [Player.objects.create(game_player_id=str(10000 + i), display_name=f"P{i}") for i in range(1, 6)]
