"""A helper's PostgreSQL connection across calls, run by `manage.py shell` on the
production settings (tests/test_helper_pool.py): which server process answered each
call, and what became of a call after the server closed the helper's connection."""

from __future__ import annotations

import asyncio
import json


async def _scenario() -> dict:
    from django.db import connection

    from csbot import helper_pool
    from tests import helper_calls

    await helper_pool.ready()
    try:
        first = await helper_pool.in_helper(helper_calls.database_backend)
        second = await helper_pool.in_helper(helper_calls.database_backend)

        def terminate(pid: int) -> None:  # as a PostgreSQL restart or an idle timeout would
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            connection.close()

        await asyncio.to_thread(terminate, second)
        after = []
        for _ in range(3):
            try:
                after.append(await helper_pool.in_helper(helper_calls.database_backend))
            except Exception as exc:
                after.append(type(exc).__name__)
        return {"first": first, "second": second, "after": after}
    finally:
        helper_pool.shutdown()


def printed() -> None:
    from django.conf import settings

    settings.HELPER_PROCESSES = 1
    print(json.dumps(asyncio.run(_scenario())))
