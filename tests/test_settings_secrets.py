"""With DEBUG off csbot refuses to start on the demo secrets published in its settings:
anyone could forge staff sessions with the one, or sign in as any player and use the
bot's order, ban and mail tools with the other."""

from __future__ import annotations

import subprocess
import sys

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


# A player's cookie made by a process on one SECRET_KEY, read by a process on another.
MAKE_COOKIE = (
    "import django; django.setup(); from chat.identity import player_cookie_value; print(player_cookie_value(42))"
)
READ_COOKIE = (
    "import sys, django; django.setup(); from chat.identity import player_id_from_cookie; "
    "print(player_id_from_cookie(sys.argv[1]))"
)


def run(script: str, *args: str, **env: str) -> str:
    shown = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=servers.product_env(**env),
        capture_output=True,
        text=True,
        check=True,
        cwd=servers.ROOT,
    )
    return shown.stdout.strip().splitlines()[-1]


def test_after_the_key_is_rotated_a_player_keeps_their_chat_while_the_old_key_is_a_fallback():
    old, new = "csbot-tests-old-secret-key", "csbot-tests-new-secret-key"
    cookie = run(MAKE_COOKIE, SECRET_KEY=old)

    assert run(READ_COOKIE, cookie, SECRET_KEY=new, SECRET_KEY_FALLBACKS=f"{old},an-older-one") == "42"
    assert run(READ_COOKIE, cookie, SECRET_KEY=new) == "None"  # a new visitor, their chat gone


def test_production_refuses_the_demo_key_as_a_fallback():
    message = servers.refusal_to_start(DEBUG="false", SECRET_KEY_FALLBACKS=csbot_settings.DEMO_SECRET_KEY, **OURS)
    assert message.endswith(
        "SECRET_KEY_FALLBACKS holds the published demo value and DEBUG is off: anyone could forge "
        "staff sessions with it. Remove it (README, Production)."
    )


def test_production_refuses_to_start_without_the_game_backend():
    message = servers.refusal_to_start(DEBUG="false", **{**OURS, "GAME_BACKEND_URL": ""})
    assert message == (
        "django.core.exceptions.ImproperlyConfigured: DEBUG is off, but GAME_BACKEND_URL is unset or empty: "
        "the bot's tools (orders, bans, mail) would call the demo backend on 127.0.0.1:8765, which only run.sh "
        "starts. Set it (README, Configuration)."
    )


@pytest.mark.parametrize("name", ["SECRET_KEY", "PLAYER_TOKEN_SECRET"])
def test_a_public_host_with_debug_left_on_refuses_a_demo_secret(name):
    """DEBUG defaults to on: a deployment that forgot DEBUG=false would have served
    support.example.com with secrets anyone can read in csbot's source."""
    message = servers.refusal_to_start(ALLOWED_HOSTS="support.example.com", **{**OURS, name: DEMO[name]})
    assert message == (
        f"django.core.exceptions.ImproperlyConfigured: {name} is the published demo value and "
        "ALLOWED_HOSTS names support.example.com, which others reach: "
        f"set {name} to a long random secret of this deployment's own (README, Production)."
    )


def test_debug_on_for_this_machine_only_still_starts_on_the_demo_secrets():
    assert servers.setting_in_a_fresh_process("DEBUG", ALLOWED_HOSTS="localhost,127.0.0.1", **DEMO) == "True"
    assert servers.setting_in_a_fresh_process("DEBUG", ALLOWED_HOSTS="support.example.com", **OURS) == "True"
