"""The staff cast for chat tests: Alice and Bob are agents, Mia the manager, Pete a
signed-in user with no staff role; the players are Lin and Kai, and Kai must see
nothing of Lin's chat."""

from __future__ import annotations

import importlib
import threading
import uuid
from types import SimpleNamespace

import pytest
from channels.layers import channel_layers
from django.apps import apps
from django.contrib.auth.models import Group, User

from chat.models import Player
from tests.services import require_redis


def make_user(username: str, group: str | None = None, **extra) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, first_name=username.title(), **extra)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])  # a flush (transactional tests) drops it
    return user


@pytest.fixture
def roles(db) -> None:
    """The groups and their admin permissions, as the migration makes them (a flush drops them)."""
    importlib.import_module("chat.migrations.0005_staff_permissions").grant(apps, None)


@pytest.fixture
def alice(db) -> User:
    return make_user("alice", "agent", is_staff=True)


@pytest.fixture
def bob(db) -> User:
    return make_user("bob", "agent", is_staff=True)


@pytest.fixture
def mia(db) -> User:
    return make_user("mia", "manager", is_staff=True)


@pytest.fixture
def pete(db) -> User:
    return make_user("pete")


@pytest.fixture
def lin(db) -> Player:
    return Player.objects.create(game_player_id="10086", display_name="Lin", language="en")


@pytest.fixture
def kai(db) -> Player:
    return Player.objects.create(game_player_id="10010", display_name="Kai", language="en")


@pytest.fixture
def redis_layer(settings):
    """The production path's channel layer (channels_redis), under a prefix of its own."""
    url = require_redis()
    channel_layers.backends.clear()
    settings.REDIS_URL = url
    prefix = f"csbot-test-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url], "prefix": prefix}}
    }
    yield
    channel_layers.backends.clear()


@pytest.fixture
def held_preparation(monkeypatch) -> SimpleNamespace:
    """The answer's pipeline (in a helper, in production) waits for `go_on` once it has
    set `preparing`: its row exists by then, and a test acts while it is being prepared."""
    from agents.pipeline import prepare

    held = SimpleNamespace(preparing=threading.Event(), go_on=threading.Event())
    all_steps = prepare.all_steps

    def waiting(conversation_id: int, known: dict | None = None):
        held.preparing.set()
        held.go_on.wait(10)
        return all_steps(conversation_id, known)

    monkeypatch.setattr(prepare, "all_steps", waiting)
    return held
