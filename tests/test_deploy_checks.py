"""`manage.py check --deploy` sees csbot.middleware's subclasses of Django's middleware,
so it reports what a deployment really lacks instead of three missing middlewares."""

from __future__ import annotations

import re

from tests import servers


def test_check_deploy_reports_the_real_gaps_not_the_subclassed_middleware(tmp_path):
    env = servers.product_env(
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        DEBUG="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        **servers.PRODUCTION_SECRETS,
    )
    reported = set(re.findall(r"security\.W\d+", servers.manage(env, "check", "--deploy").stderr))

    assert not reported & {"security.W001", "security.W002", "security.W003"}  # present, as subclasses
    assert "security.W004" in reported  # HSTS: seen once SecurityMiddleware is
    assert "security.W012" in reported  # the session cookie's Secure: seen once SessionMiddleware is
    assert "security.W016" in reported  # the CSRF cookie's Secure: seen once CsrfViewMiddleware is
