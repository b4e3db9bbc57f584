"""HTTPS for browsers: the redirect from plain http and HSTS, set from the environment
once a deployment's https works (README, Production)."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

from tests import servers

pytestmark = pytest.mark.django_db(transaction=True)

PROXIED = {"x-forwarded-proto": "https"}


def test_hsts_and_the_redirect_are_off_until_set():
    assert servers.setting_in_a_fresh_process("SECURE_SSL_REDIRECT") == "False"
    assert servers.setting_in_a_fresh_process("SECURE_HSTS_SECONDS") == "0"

    https = {
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "SECURE_HSTS_PRELOAD": "true",
    }
    shown = {name: servers.setting_in_a_fresh_process(name, **https) for name in https}
    assert shown == {
        "SECURE_SSL_REDIRECT": "True",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
        "SECURE_HSTS_PRELOAD": "True",
    }


@pytest.fixture
def https_only(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000


async def test_a_player_on_plain_http_is_sent_to_https(https_only):
    response = await AsyncClient().get("/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/"


async def test_over_https_the_page_tells_browsers_to_stay_on_https(https_only):
    response = await AsyncClient().get("/", headers=PROXIED)

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000"


async def test_probes_on_plain_http_are_answered_not_redirected(https_only):
    assert (await AsyncClient().get("/healthz")).status_code == 200
    assert (await AsyncClient().get("/readyz")).status_code in {200, 503}  # 503 while warming up
