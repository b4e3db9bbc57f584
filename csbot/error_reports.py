"""What Django's error page (DEBUG on) and error reports show of the settings.

Django hides the settings whose names say API, TOKEN, KEY, SECRET, PASS or SIGNATURE;
csbot's connection URLs carry secrets under other names: the Redis password in
REDIS_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND and CHANNEL_LAYERS' `hosts`, the
database's in DATABASE_URL, a WeCom or DingTalk robot's key in ALERT_WEBHOOK_URL. With
DEBUG on, any error's page showed them to whoever's request failed.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SettingsSecretsFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|HOSTS|CELERY_RESULT_BACKEND", flags=re.I
    )
