"""A process's start-up (csbot/warm.py) loads what answers would otherwise load while streaming."""

from __future__ import annotations

import json
import subprocess
import sys

from tests import servers
from tests.services import require_redis

# In a fresh process: what is loaded before the warm-up and after it.
PROBE = """
import json, sys, django
django.setup()
from csbot.celery import app
def loaded():
    return {
        "celery_finalized": app.finalized,
        "analytics_loaded": "analytics.hooks" in sys.modules,
        "provider_loaded": "agents.providers.ernie" in sys.modules,
    }
before = loaded()
from csbot.warm import warm_and_freeze
warm_and_freeze()
after = loaded()
print(json.dumps({"before": before, "after": after}))
"""


def test_the_warm_up_loads_analytics_celery_and_the_provider_before_the_first_answer(tmp_path):
    """The first knowledge gap, the first batch of them and the first answer used to do it
    on the event loop, holding every stream for 10-15 ms, and 70 ms for the provider."""
    env = servers.product_env(
        SQLITE_PATH=str(tmp_path / "warm.sqlite3"), LLM_PROVIDER="ernie", ERNIE_API_KEY="k", ERNIE_SECRET_KEY="s"
    )
    shown = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, cwd=servers.ROOT
    )
    loaded = json.loads(shown.stdout.strip().splitlines()[-1])
    assert loaded["before"] == {"celery_finalized": False, "analytics_loaded": False, "provider_loaded": False}
    assert loaded["after"] == {"celery_finalized": True, "analytics_loaded": True, "provider_loaded": True}


# In a fresh process with a broker: what the first task sent after the warm-up loads.
PROBE_FIRST_TASK = """
import json, sys, django
django.setup()
from csbot.warm import warm_and_freeze
warm_and_freeze()
before = set(sys.modules)
from analytics import tasks
tasks.knowledge_gaps.delay([])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_after_the_warm_up_the_first_task_sent_loads_no_module(tmp_path):
    """A web process's first batch of knowledge gaps imported kombu's Redis transport and
    the result backend from a worker thread: 50 ms of the GIL taken from the streams."""
    import redis

    url = require_redis().rsplit("/", 1)[0] + "/6"  # this test's own database: the task it sends stays there
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "warm.sqlite3"), REDIS_URL=url)
    try:
        shown = subprocess.run(
            [sys.executable, "-c", PROBE_FIRST_TASK],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=servers.ROOT,
        )
    finally:
        redis.Redis.from_url(url).flushdb()
    assert json.loads(shown.stdout.strip().splitlines()[-1]) == []
