"""`manage.py check --deploy` sees csbot.middleware's subclasses of Django's middleware,
so it reports what a deployment really lacks instead of three missing middlewares, and
it warns of a redirect to https that would loop behind a proxy (csbot/https_checks.py)."""

from __future__ import annotations

import re

from tests import servers


def deploy_warnings(tmp_path, **env: str) -> set[str]:
    """The security warnings `check --deploy` prints for production (DEBUG off) with `env`."""
    production = {"SQLITE_PATH": str(tmp_path / "db.sqlite3"), "DEBUG": "false", **servers.PRODUCTION_SECRETS}
    checked = servers.manage(servers.product_env(**production, **env), "check", "--deploy")
    return set(re.findall(r"(?:security|csbot)\.W\d+", checked.stderr))


def test_check_deploy_reports_the_real_gaps_not_the_subclassed_middleware(tmp_path):
    reported = deploy_warnings(tmp_path, SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false")

    assert not reported & {"security.W001", "security.W002", "security.W003"}  # present, as subclasses
    assert "security.W004" in reported  # HSTS: seen once SecurityMiddleware is
    assert "security.W012" in reported  # the session cookie's Secure: seen once SessionMiddleware is
    assert "security.W016" in reported  # the CSRF cookie's Secure: seen once CsrfViewMiddleware is


def test_check_deploy_is_satisfied_once_https_is_set_up(tmp_path):
    reported = deploy_warnings(
        tmp_path,
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true",
    )

    assert not reported & {"security.W004", "security.W005", "security.W008", "security.W021"}


def test_check_deploy_warns_that_the_ssl_redirect_loops_behind_a_proxy_not_trusted(tmp_path):
    assert "csbot.W001" not in deploy_warnings(tmp_path)  # no redirect, nothing to loop
    assert "csbot.W001" in deploy_warnings(tmp_path, SECURE_SSL_REDIRECT="true")
    assert "csbot.W001" not in deploy_warnings(tmp_path, SECURE_SSL_REDIRECT="true", TRUST_X_FORWARDED_PROTO="true")


def test_a_web_process_with_the_ssl_redirect_and_no_trusted_proxy_logs_the_hint_at_start(tmp_path):
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"), WARM_UP_ON_START="false")
    looping = servers.Daphne({**env, "SECURE_SSL_REDIRECT": "true"}, tmp_path / "looping.log").start()
    proxied = servers.Daphne(
        {**env, "SECURE_SSL_REDIRECT": "true", "TRUST_X_FORWARDED_PROTO": "true"}, tmp_path / "proxied.log"
    ).start()
    looping.stop()
    proxied.stop()

    assert "WARNING csbot.https_checks ?: (csbot.W001) SECURE_SSL_REDIRECT is on" in looping.log()
    assert "HINT: Behind such a proxy set TRUST_X_FORWARDED_PROTO=true" in looping.log()
    assert "csbot.W001" not in proxied.log()
