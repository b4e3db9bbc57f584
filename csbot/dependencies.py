"""Whether this web process can reach what every chat needs: its database and, with
REDIS_URL, Redis (the channel layer and the answer buffer). Asked by the readiness probe
(csbot/readiness.py).

A process that has warmed up stays warm, but a database or a Redis that goes away
afterwards stops every chat: pages fail and players' sockets close. A probe that did not
look would keep the load balancer sending players to it, and tell the operator all is well.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection

from chat.streaming.redis_client import redis_client

# What the probe's body may say of each: anyone who reaches /readyz reads it, so not what
# the driver said (host names, users, paths), which goes to the log (csbot/readiness.py).
OK = "ok"
UNREACHABLE = "unreachable"
NOT_MIGRATED = "not_migrated"


@dataclass(frozen=True)
class DependencyState:
    status: str  # OK, UNREACHABLE or NOT_MIGRATED
    detail: str = ""  # why, for the log: the driver's words, or the migrations missing


# A probe answers well within a balancer's own timeout (docker-compose.yml's: 30 s; a
# Kubernetes probe's: 1 s by default), and a database that takes longer is as good as away.
PROBE_TIMEOUT_SECONDS = 2.0

# One thread of its own: while the database hangs, a probe's query waits up to
# DB_POOL_TIMEOUT for a connection, and probes every few seconds must not take the
# threads the chats' own database work runs in (csbot/db.py) one after another.
_probe_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")


def _check_database() -> None:
    close_old_connections()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        _check_migrated()
    finally:
        close_old_connections()


# Once the schema has caught up with the code, it stays so for this process's life.
_migrated = False


class NotMigrated(Exception):
    pass


def _check_migrated() -> None:
    """A process whose code is newer than its database's schema (a deploy that started it
    before `manage.py migrate` ran) fails every page and question that touches what changed."""
    global _migrated
    if _migrated:
        return
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise NotMigrated(f"{len(pending)} migrations not applied: run manage.py migrate")
    _migrated = True


async def database_state() -> DependencyState:
    """Whether the database can be used now, and if not, why."""
    query = asyncio.get_running_loop().run_in_executor(_probe_thread, _check_database)
    return await _state(query)


async def redis_state() -> DependencyState | None:
    """Whether Redis can be used now, and if not, why; None without REDIS_URL (the embedded default)."""
    if not settings.REDIS_URL:
        return None

    async def ping() -> None:
        await redis_client().ping()  # the client itself may refuse the URL

    return await _state(ping())


async def _state(check) -> DependencyState:
    try:
        await asyncio.wait_for(check, PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        return DependencyState(UNREACHABLE, f"no answer within {PROBE_TIMEOUT_SECONDS:g} s")
    except NotMigrated as error:
        return DependencyState(NOT_MIGRATED, str(error))
    except Exception as error:  # what the driver says: refused, unknown database, auth failed
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return DependencyState(UNREACHABLE, detail)
    return DependencyState(OK)
