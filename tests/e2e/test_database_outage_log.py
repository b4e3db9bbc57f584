"""PostgreSQL goes away under a web process and comes back: its log says so in a few lines,
not in psycopg's pool's warning for every failed attempt (several a second), and says when it
is over (csbot/log_filters.py, DatabaseOutage)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from tests import servers
from tests.tcp_proxy import TcpProxy


def through(proxy: TcpProxy, database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


def probe(url: str) -> int:
    """What a balancer does every few seconds: each probe asks the pool for a connection."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


def probe_until(url: str, status: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while probe(url) != status:
        assert time.monotonic() < deadline, f"/readyz never answered {status}"
        time.sleep(0.3)


def test_the_log_says_once_that_the_database_went_away_reminds_and_says_when_it_is_back(production_env, tmp_path):
    proxy = TcpProxy(urlsplit(production_env["DATABASE_URL"]).port).start()
    env = {**production_env, "DATABASE_URL": through(proxy, production_env["DATABASE_URL"])}
    env |= {"DB_UNREACHABLE_LOG_SECONDS": "1", "HELPER_PROCESSES": "0", "LOG_LEVEL": "INFO"}
    # A call gives up on the pool after 2 s, and the loops that use the database (the sweep
    # for orphans, the heartbeat) try every second: in a 4 s outage each fails again and again.
    env |= {"DB_POOL_TIMEOUT": "2", "ORPHAN_SWEEP_SECONDS": "1", "WEB_PROCESS_STALE_SECONDS": "6"}
    daphne = servers.Daphne(env, tmp_path / "daphne.log").start()
    try:
        probe_until(daphne.url, 200)
        proxy.cut()
        cut_at = time.monotonic()
        # Back before the pool's third attempt to reconnect, 7 s after the first failure (1 + 2
        # + 4 s of psycopg's backoff): a longer outage waited for its fourth, 15 s after.
        down_for = time.monotonic() + 4  # longer than DB_POOL_TIMEOUT: the loops' calls fail
        while time.monotonic() < down_for:  # the balancer goes on probing, every half second
            probe(daphne.url)
            time.sleep(0.5)
        proxy.start()
        probe_until(daphne.url, 200)
        away = time.monotonic() - cut_at
    finally:
        daphne.stop()
        proxy.cut()

    log = daphne.log()
    assert "error connecting" not in log, log
    assert "INFO psycopg.pool" not in log, log  # its lines on every query stay out, as psycopg has them
    went = [line for line in log.splitlines() if "csbot.db the database can't be reached: " in line]
    assert len(went) == 1, log
    assert "Connection refused" in went[0] and went[0].endswith("(trying again; said again every 1 s until it can)")
    reminders = [line for line in log.splitlines() if "csbot.db the database still can't be reached after " in line]
    assert 2 <= len(reminders) <= away + 1, log  # every second of it, not at each failed attempt
    back = [line for line in log.splitlines() if "csbot.db the database can be reached again, after " in line]
    assert len(back) == 1, log
    # The loops that retry the database (the heartbeat, the sweep for orphans) say so once each, in a line.
    assert "ERROR chat.streaming" not in log, log  # no traceback of theirs
    assert log.count("this web process's heartbeat failed: ") <= 1
    assert log.count("the sweep for orphaned answers failed: ") <= 1
