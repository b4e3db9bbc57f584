"""The player page under ASGI, as daphne serves it: each visitor's own bits, the shared
fragments in their language, and Django's middleware without a thread hop each."""

from __future__ import annotations

import pytest
from asgiref import sync
from django.test import AsyncClient

from chat.identity import make_player_token

pytestmark = pytest.mark.django_db(transaction=True)


async def load(client: AsyncClient, path: str = "/", language: str = "en"):
    response = await client.get(path, headers={"accept-language": language})
    assert response.status_code == 200
    return response


async def test_each_visitor_gets_their_own_greeting_and_csrf_token_in_their_language():
    lin = await load(AsyncClient(), f"/?token={make_player_token('10086', name='Lin')}", "zh-hans")
    anonymous = await load(AsyncClient(), "/", "zh-hans")
    english = await load(AsyncClient(), "/", "en")

    assert "Lin" in lin.text and "Lin" not in anonymous.text
    assert 'lang="zh-hans"' in anonymous.text and "发送" in anonymous.text  # "Send"
    assert 'lang="en"' in english.text and ">Send<" in english.text and "发送" not in english.text
    tokens = {r.cookies["csrftoken"].value for r in (lin, anonymous, english)}
    assert len(tokens) == 3


async def test_loading_the_page_does_not_hop_to_a_thread_per_middleware(monkeypatch):
    hops = []
    real_call = sync.SyncToAsync.__call__

    def counting(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return real_call(self, *args, **kwargs)

    client = AsyncClient()
    await load(client)  # the first visit creates the player and fills the fragment cache
    monkeypatch.setattr(sync.SyncToAsync, "__call__", counting)
    await load(client)

    # Django's request_started / request_finished signals and closing the response remain;
    # each of the 8 middlewares used to add one or two more (csbot/middleware.py).
    assert len(hops) <= 3, hops
