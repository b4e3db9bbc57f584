"""With DEBUG off csbot refuses to start on the demo secrets published in its settings:
anyone could forge staff sessions with the one, or sign in as any player and use the
bot's order, ban and mail tools with the other."""

from __future__ import annotations

import pytest

from csbot import settings as csbot_settings
from tests import servers

DEMO = {"SECRET_KEY": csbot_settings.DEMO_SECRET_KEY, "PLAYER_TOKEN_SECRET": csbot_settings.DEMO_PLAYER_TOKEN_SECRET}
OURS = servers.PRODUCTION_SECRETS


@pytest.mark.parametrize("name", ["SECRET_KEY", "PLAYER_TOKEN_SECRET"])
def test_production_refuses_a_demo_secret_and_names_it(name):
    message = servers.refusal_to_start(DEBUG="false", **{**OURS, name: DEMO[name]})
    assert message.startswith(f"django.core.exceptions.ImproperlyConfigured: {name} is the published demo value")


def test_production_refuses_an_empty_player_token_secret():
    assert "PLAYER_TOKEN_SECRET is unset or empty" in servers.refusal_to_start(
        DEBUG="false", **{**OURS, "PLAYER_TOKEN_SECRET": ""}
    )


def test_production_starts_with_secrets_of_its_own():
    assert servers.setting_in_a_fresh_process("DEBUG", DEBUG="false", **OURS) == "False"


def test_the_embedded_default_starts_on_the_demo_secrets():
    assert servers.setting_in_a_fresh_process("DEBUG", **DEMO) == "True"
