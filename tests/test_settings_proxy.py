"""Behind a proxy that terminates TLS: staff log in, and cookies go out Secure.

The proxy speaks https to the browser and plain http to daphne, saying so in
X-Forwarded-Proto; TRUST_X_FORWARDED_PROTO tells Django to believe it.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient

from tests import servers

pytestmark = pytest.mark.django_db(transaction=True)

PROXIED = {"x-forwarded-proto": "https"}


@pytest.fixture
def behind_the_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


async def log_in(origin: str) -> int:
    """Alice's login POST as the proxy passes it on; the Host daphne sees is `testserver`."""
    await User.objects.acreate_user("alice", password="alice-password")
    client = AsyncClient(enforce_csrf_checks=True)
    page = await client.get("/accounts/login/", headers=PROXIED)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"username": "alice", "password": "alice-password", "csrfmiddlewaretoken": token}
    response = await client.post("/accounts/login/", form, headers={**PROXIED, "origin": origin})
    return response.status_code


async def test_staff_log_in_over_https_through_the_proxy(behind_the_proxy):
    assert await log_in("https://testserver") == 302


async def test_a_proxy_that_passes_another_host_needs_the_public_origin_trusted(behind_the_proxy, settings):
    assert await log_in("https://csbot.example.com") == 403
    await User.objects.all().adelete()

    settings.CSRF_TRUSTED_ORIGINS = ["https://csbot.example.com"]
    assert await log_in("https://csbot.example.com") == 302


async def test_without_trusting_the_header_the_https_origin_is_refused():
    assert await log_in("https://testserver") == 403


async def test_a_sign_in_over_plain_http_with_secure_cookies_is_told_it_needs_https(settings, caplog):
    """A first try of a deployment (DEBUG off, cookies Secure) at http://its-address:8000: the
    browser dropped the Secure CSRF cookie, and the sign-in was refused with Django's page,
    which told staff to enable their cookies."""
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = True

    async def sign_in(headers: dict[str, str]):
        client = AsyncClient(enforce_csrf_checks=True)
        page = await client.get("/accounts/login/", headers=headers)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        client.cookies.clear()  # the browser keeps a Secure cookie for https only
        form = {"username": "alice", "password": "alice-password", "csrfmiddlewaretoken": token}
        return await client.post("/accounts/login/", form, headers=headers)

    over_http = await sign_in({"accept-language": "en"})
    assert over_http.status_code == 403
    assert "Sign-in needs https" in over_http.text and "enable" not in over_http.text
    assert "set CSRF_COOKIE_SECURE=false and SESSION_COOKIE_SECURE=false" in caplog.text

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    over_https = await sign_in({**PROXIED, "accept-language": "en"})  # cookies off in the browser: Django's page
    assert over_https.status_code == 403 and "Sign-in needs https" not in over_https.text


async def test_the_player_cookie_is_secure_through_the_proxy_only(behind_the_proxy):
    proxied = await AsyncClient().get("/", headers=PROXIED)
    direct = await AsyncClient().get("/")
    assert proxied.cookies["csbot_player"]["secure"] is True
    assert not direct.cookies["csbot_player"]["secure"]


def test_trust_x_forwarded_proto_sets_the_proxy_header():
    assert servers.setting_in_a_fresh_process("SECURE_PROXY_SSL_HEADER") == "None"
    shown = servers.setting_in_a_fresh_process("SECURE_PROXY_SSL_HEADER", TRUST_X_FORWARDED_PROTO="true")
    assert shown == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_cookies_are_secure_unless_debug_or_told_otherwise():
    debug_off = {"DEBUG": "false", **servers.PRODUCTION_SECRETS}
    assert servers.setting_in_a_fresh_process("SESSION_COOKIE_SECURE") == "False"  # the embedded default, on http
    assert servers.setting_in_a_fresh_process("SESSION_COOKIE_SECURE", **debug_off) == "True"
    assert servers.setting_in_a_fresh_process("CSRF_COOKIE_SECURE", **debug_off) == "True"
    plain_http = {**debug_off, "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false"}
    assert servers.setting_in_a_fresh_process("SESSION_COOKIE_SECURE", **plain_http) == "False"
    assert servers.setting_in_a_fresh_process("CSRF_COOKIE_SECURE", **plain_http) == "False"


def test_csbot_refuses_to_start_on_a_url_in_allowed_hosts():
    """ALLOWED_HOSTS=https://support.example.com started, then answered every player 400."""
    assert servers.refusal_to_start(ALLOWED_HOSTS="https://support.example.com/") == (
        "django.core.exceptions.ImproperlyConfigured: ALLOWED_HOSTS holds 'https://support.example.com/', "
        "a URL: list host names only ('support.example.com'); origins go in CSRF_TRUSTED_ORIGINS."
    )
