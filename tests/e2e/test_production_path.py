"""End to end on the production path: daphne as a real process, PostgreSQL, the
Redis channel layer and answer buffer, ERNIE v1 upstream (the fake, over HTTP)."""

from __future__ import annotations

import pytest

from tests import servers
from tests.chat.socket_client import answer_text
from tests.e2e.player_client import NetPlayer, player_cookie
from tests.fake_ernie_fixtures import fake_ernie_env

CHUNKS = ["您好，充值未到账", "通常是因为支付渠道延迟。", "请稍等五分钟后重新登录。", "如仍未到账请提供订单号。"]


@pytest.fixture
def ernie_upstream(fake_ernie_thread):
    fake_ernie_thread.configure(reply=CHUNKS, delay=0.15)
    return fake_ernie_thread


@pytest.fixture
def daphne_on_postgres(production_env, ernie_upstream, tmp_path):
    env = {**production_env, **fake_ernie_env(ernie_upstream)}
    server = servers.Daphne(env, tmp_path / "daphne.log").start()
    yield server
    server.stop()


def is_end(frame: dict) -> bool:
    return frame.get("type") == "end"


async def test_an_ernie_answer_streams_through_daphne_postgres_and_redis(daphne_on_postgres, ernie_upstream):
    cookie = player_cookie(daphne_on_postgres.url)
    async with NetPlayer(daphne_on_postgres.url, cookie) as player:
        await player.send({"type": "resume", "after_seq": 0, "streams": {}})
        await player.receive_until(lambda f: f.get("type") == "resumed")
        await player.say("充值没到账怎么办")
        frames = await player.receive_until(is_end)

    bot = next(f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
    deltas = [f for f in frames if f.get("t") == "d"]
    assert len(deltas) == len(CHUNKS)
    assert answer_text(frames, bot["id"]) == "".join(CHUNKS)
    assert frames[-1]["status"] == "done"
    # The question reached ERNIE as the last user turn, with the knowledge passages in `system`.
    body = ernie_upstream.requests[-1].body
    assert body["messages"][-1] == {"role": "user", "content": "充值没到账怎么办"}
    assert body["stream"] is True and "星落传说" in body["system"]


async def test_a_reload_mid_answer_resumes_from_the_redis_buffer(daphne_on_postgres):
    cookie = player_cookie(daphne_on_postgres.url)
    async with NetPlayer(daphne_on_postgres.url, cookie) as player:
        await player.send({"type": "resume", "after_seq": 0, "streams": {}})
        await player.receive_until(lambda f: f.get("type") == "resumed")
        await player.say("充值没到账怎么办")
        first = await player.receive_until(lambda f: f.get("t") == "d")
    # The socket is gone; the answer goes on. A new page load asks for everything.
    async with NetPlayer(daphne_on_postgres.url, cookie) as player:
        await player.send({"type": "resume", "after_seq": 0, "streams": {}})
        second = await player.receive_until(is_end)

    bot_id = next(f["message"]["id"] for f in first if f.get("type") == "message" and f["message"]["sender"] == "bot")
    assert answer_text(second, bot_id) == "".join(CHUNKS)
