"""A real Celery worker on the real Redis broker computes a closed conversation's stats.

Everything runs as in production: PostgreSQL, Redis, `celery -A csbot worker` in
its own process, and the close enqueued by product code after its commit.
"""

from __future__ import annotations

import os
import subprocess
import time

import psycopg
import pytest
import redis

from tests import servers
from tests.services import require_postgres, require_redis

# The chat closes a conversation the way chat/ does: in a transaction, with the hook inside it.
SEED = """
from datetime import timedelta
from django.db import transaction
from django.utils import timezone
from analytics.hooks import on_conversation_closed
from chat.models import Conversation, ConversationEvent, Message, Player

player = Player.objects.create(game_player_id="worker-test", display_name="Lin")
conversation = Conversation.objects.create(player=player, intent="recharge", facts={"server": "s3"})
Message.objects.create(conversation=conversation, seq=1, sender="player", text="充值没到账", meta={"sentiment": -0.5})
Message.objects.create(conversation=conversation, seq=2, sender="bot", text="请提供订单号", ttft_ms=640,
                       prompt_tokens=300, completion_tokens=40)
with transaction.atomic():
    Conversation.objects.filter(pk=conversation.pk).update(
        state="closed", closed_at=timezone.now() + timedelta(seconds=1), last_seq=2)
    ConversationEvent.objects.create(conversation=conversation, kind="closed")
    on_conversation_closed(conversation.pk)
print(conversation.pk)
"""


@pytest.fixture
def production_db():
    admin_url = require_postgres()
    name = f"csbot_analytics_worker_{os.getpid()}"
    database_url = servers.create_postgres_database(admin_url, name)
    yield database_url
    servers.drop_postgres_database(admin_url, name)


@pytest.fixture
def broker_url():
    url = require_redis().rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(url).flushdb()  # db 5 is this test's: no task left over from an earlier run
    return url


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """servers.manage, with the command's output in the failure message."""
    try:
        return servers.manage(env, *args)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"manage.py {' '.join(args)} failed:\n{exc.stdout}\n{exc.stderr}", pytrace=False)


def wait_for_stats(database_url: str, conversation_id: int, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT turns, bot_answers, ttft_ms_values, prompt_tokens, intent, server, sentiment_first"
                " FROM analytics_conversationstats WHERE conversation_id = %s",
                [conversation_id],
            ).fetchone()
            if row:
                return row
            time.sleep(0.2)
    return None


def test_a_real_worker_on_redis_computes_the_stats_of_a_conversation_closed_by_the_chat(
    production_db, broker_url, tmp_path
):
    env = servers.product_env(
        DATABASE_URL=production_db, REDIS_URL=broker_url, DEBUG="false", LOG_LEVEL="INFO", **servers.PRODUCTION_SECRETS
    )
    manage(env, "migrate", "--noinput")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [str(servers.BIN / "celery"), "-A", "csbot", "worker", "--pool=solo", "--concurrency=1",
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "-n", f"analytics-test-{os.getpid()}@%h"],
            cwd=servers.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            seeded = manage(env, "shell", "-c", SEED)
            conversation_id = int(seeded.stdout.strip().splitlines()[-1])

            row = wait_for_stats(production_db, conversation_id)

            assert row is not None, f"no stats row; worker log:\n{log_path.read_text(errors='replace')}"
            assert row == (1, 1, [640], 300, "recharge", "s3", -0.5)
        finally:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    assert "Task analytics.tasks.conversation_closed[" in log_path.read_text(errors="replace")
