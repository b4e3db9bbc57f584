"""REDIS_URL must be a URL: `127.0.0.1:6379` started every process, and each player's socket
then closed at once. csbot refuses to start, without echoing the value (it may hold a password)."""

from __future__ import annotations

from tests import servers


def test_csbot_refuses_to_start_on_a_redis_address_that_is_not_a_url():
    assert servers.refusal_to_start(REDIS_URL=":s3cret@127.0.0.1:6379") == (
        "django.core.exceptions.ImproperlyConfigured: REDIS_URL does not start with redis://, rediss:// or unix://: "
        "write it as a URL, e.g. redis://127.0.0.1:6379/0 (README, Configuration)."
    )


def test_a_redis_url_starts():
    assert servers.setting_in_a_fresh_process("REDIS_URL", REDIS_URL="rediss://:s3cret@redis.internal:6380/2") == (
        "rediss://:s3cret@redis.internal:6380/2"
    )
