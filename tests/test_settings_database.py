"""A DATABASE_URL csbot can't run on, or a connection pool that can't work, stops every
process at its start, saying which variable to fix; so does a log level that is not one.
Before, dj_database_url's own error suggested another database would do (`mysql://`: "Did
you install mysqlclient?"), a pool with DB_POOL_MIN above DB_POOL_MAX started and failed
every request at its first query, and LOG_LEVEL=verbose said "Unable to configure root
logger"."""

from __future__ import annotations

from tests import servers

NOT_POSTGRES = (
    "django.core.exceptions.ImproperlyConfigured: DATABASE_URL does not start with postgres:// or postgresql://: "
    "csbot runs on PostgreSQL (e.g. postgres://csbot:PASSWORD@127.0.0.1:5432/csbot), or on SQLite with "
    "DATABASE_URL unset (README, Configuration)."
)


def test_csbot_refuses_to_start_on_a_database_url_that_is_not_postgresql_without_echoing_it():
    assert servers.refusal_to_start(DATABASE_URL="mysql://csbot:s3cret@db/csbot") == NOT_POSTGRES
    assert servers.refusal_to_start(DATABASE_URL="postgres//csbot:s3cret@db/csbot") == NOT_POSTGRES


def test_a_postgresql_url_starts():
    shown = servers.setting_in_a_fresh_process(
        "DATABASES['default']['NAME']", DATABASE_URL="postgresql://csbot:s3cret@db.internal:5432/support"
    )
    assert shown == "support"


def test_csbot_refuses_to_start_on_a_pool_whose_minimum_is_above_its_maximum():
    refused = servers.refusal_to_start(DATABASE_URL="postgres://csbot@db/csbot", DB_POOL_MIN="30", DB_POOL_MAX="20")
    assert refused == (
        "django.core.exceptions.ImproperlyConfigured: DB_POOL_MIN (30) and DB_POOL_MAX (20) must be "
        "0 <= DB_POOL_MIN <= DB_POOL_MAX, and DB_POOL_MAX at least 1."
    )
    assert "DB_POOL_MAX (0)" in servers.refusal_to_start(DATABASE_URL="postgres://csbot@db/csbot", DB_POOL_MAX="0")


def test_csbot_refuses_to_start_on_a_log_level_that_is_not_one():
    assert servers.refusal_to_start(LOG_LEVEL="verbose") == (
        "django.core.exceptions.ImproperlyConfigured: LOG_LEVEL is 'verbose', a value csbot does not know: "
        "set it to one of debug, info, warning, error, critical."
    )
    assert servers.setting_in_a_fresh_process("LOG_LEVEL", LOG_LEVEL="warning") == "WARNING"
