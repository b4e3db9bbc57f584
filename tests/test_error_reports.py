"""With DEBUG on, an error's page lists the settings: never the secrets in csbot's URLs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.mark.django_db
def test_an_error_page_with_debug_on_shows_no_password_or_robot_key(settings, monkeypatch):
    settings.DEBUG = True
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://:redis-pw-91c2@10.0.0.7:6379/0"
    settings.CELERY_RESULT_BACKEND = settings.REDIS_URL
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "x", "CONFIG": {"hosts": [settings.REDIS_URL]}}}
    settings.DATABASE_URL = "postgres://csbot:db-pw-5e77@10.0.0.8:5432/csbot"
    settings.ALERT_WEBHOOK_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-key-0af3"

    # A builtin that raises (KeyError), so that the page's traceback quotes no line of this file.
    monkeypatch.setattr("analytics.selectors.overview", {}.__getitem__)
    browser = Client(raise_request_exception=False)
    browser.force_login(User.objects.create_superuser("root", password="pw-root-2026"))

    page = browser.get("/analytics/")

    html = page.content.decode()
    assert page.status_code == 500 and "KeyError" in html and "CELERY_BROKER_URL" in html  # Django's debug page
    for secret in ("redis-pw-91c2", "db-pw-5e77", "robot-key-0af3"):
        assert secret not in html
