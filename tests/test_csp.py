"""Every page csbot serves carries its Content-Security-Policy (csbot/csp.py), so a browser
loads nothing from another origin for it, whatever an answer's Markdown asks for."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import AsyncClient

from tests import servers

# transaction: the player page stores the visitor in a thread of its own (chat/views.py).
pytestmark = pytest.mark.django_db(transaction=True)

STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def signed_in(client, username: str, group: str | None = None, **extra) -> None:
    user = User.objects.create_user(username=username, password="pw-" + username, **extra)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    client.force_login(user)


def test_the_strict_policy_is_the_default_and_empty_turns_it_off():
    assert servers.setting_in_a_fresh_process("CONTENT_SECURITY_POLICY") == STRICT
    assert servers.setting_in_a_fresh_process("CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY="") == ""
    assert (
        servers.setting_in_a_fresh_process("CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY=" default-src 'none' ")
        == "default-src 'none'"
    )


@pytest.mark.parametrize(
    "url",
    ["/", "/?token=not-a-signed-token", "/accounts/login/", "/admin/login/", "/staff/", "/analytics/"],
    ids=["player page", "token error page", "staff sign-in", "admin sign-in", "redirect to sign-in", "to sign-in"],
)
def test_a_visitor_gets_the_policy_on_every_page(client, url):
    response = client.get(url)

    assert response.status_code in (200, 302, 403)
    assert response["Content-Security-Policy"] == STRICT


def test_an_agent_gets_it_on_the_dashboard(client):
    signed_in(client, "alice", "agent")
    response = client.get("/staff/")

    assert response.status_code == 200 and 'id="staff-app"' in response.content.decode()
    assert response["Content-Security-Policy"] == STRICT


@pytest.mark.parametrize("url", ["/analytics/", "/analytics/agents/", "/analytics/gaps/"])
def test_a_manager_gets_it_on_the_analytics_pages(client, url):
    signed_in(client, "mia", "manager")
    response = client.get(url)

    assert response.status_code == 200 and response["Content-Security-Policy"] == STRICT


@pytest.mark.parametrize("url", ["/admin/", "/admin/chat/conversation/", "/admin/auth/user/add/"])
def test_a_superuser_gets_it_in_the_admin(client, url):
    signed_in(client, "root", is_superuser=True, is_staff=True)
    response = client.get(url)

    assert response.status_code == 200 and response["Content-Security-Policy"] == STRICT


async def test_the_player_page_under_asgi_carries_it():
    # Under ASGI the middleware runs on the event loop (csbot/middleware.py's OnTheLoop).
    response = await AsyncClient().get("/")

    assert response.status_code == 200 and response["Content-Security-Policy"] == STRICT


def test_an_operator_can_set_another_policy_or_none(client, settings):
    settings.CONTENT_SECURITY_POLICY = "default-src 'self' https://cdn.example.com"
    assert client.get("/accounts/login/")["Content-Security-Policy"] == "default-src 'self' https://cdn.example.com"

    settings.CONTENT_SECURITY_POLICY = ""
    assert "Content-Security-Policy" not in client.get("/accounts/login/")


def test_no_template_of_csbots_has_inline_code_the_policy_would_refuse():
    templates = [
        path
        for folder in ("templates", "chat/templates", "analytics/templates", "agents/templates")
        if (servers.ROOT / folder).is_dir()
        for path in (servers.ROOT / folder).rglob("*.html")
    ]
    inline = {
        str(path.relative_to(servers.ROOT)): found
        for path in templates
        # A <style>, a style="" attribute, an on…="" handler or a <script> that runs (no src,
        # not JSON data) would be blocked by style-src / script-src 'self'.
        if (
            found := re.findall(
                r"<style\b|\sstyle=|\son[a-z]+=|<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>",
                path.read_text(),
            )
        )
    }
    assert inline == {}
