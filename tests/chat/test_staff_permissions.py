"""Who may open what: anonymous visitors, players, a signed-in user with no role,
agents and managers, across pages, sockets and conversations."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from chat.identity import player_cookie_value
from chat.models import Conversation
from chat.services import message_append
from tests.chat.socket_client import PlayerSocket
from tests.chat.staff_client import StaffSocket, session_cookie


@pytest.fixture
def chat(lin) -> Conversation:
    conversation = Conversation.objects.create(player=lin, language="en")
    message_append(conversation_id=conversation.pk, sender="player", text="my top-up is missing", client_id="c1")
    return conversation


@pytest.fixture
def visitors(roles, lin, pete, alice, mia) -> dict[str, Client]:
    """One browser per kind of visitor."""
    player = Client()
    player.cookies[settings.PLAYER_COOKIE_NAME] = player_cookie_value(lin.pk)
    browsers = {"anonymous": Client(), "player": player}
    for name, user in (("pete", pete), ("agent", alice), ("manager", mia)):
        browsers[name] = Client()
        browsers[name].force_login(user)
    return browsers


LOGIN = "login"  # a redirect to the sign-in page
PAGES = [
    # path, then the answer for: anonymous, player, pete (no role), agent, manager
    ("/staff/", LOGIN, LOGIN, 403, 200, 200),
    ("/staff/c/{id}/", LOGIN, LOGIN, 403, 200, 200),
    ("/staff/c/{id}/export.json", LOGIN, LOGIN, 403, 403, 200),
    ("/admin/chat/conversation/", LOGIN, LOGIN, LOGIN, 200, 200),
    ("/admin/chat/conversation/{id}/change/", LOGIN, LOGIN, LOGIN, 200, 200),
    ("/admin/chat/message/", LOGIN, LOGIN, LOGIN, 200, 200),
    ("/admin/chat/player/", LOGIN, LOGIN, LOGIN, 200, 200),
    ("/admin/chat/agentprofile/", LOGIN, LOGIN, LOGIN, 200, 200),
    ("/analytics/", LOGIN, LOGIN, 403, 403, 200),
]
WHO = ["anonymous", "player", "pete", "agent", "manager"]


@pytest.mark.django_db
@pytest.mark.parametrize("path, expected", [(p[0], p[1:]) for p in PAGES], ids=[p[0] for p in PAGES])
def test_the_page_permission_matrix(visitors, chat, path, expected):
    got = {}
    for who in WHO:
        response = visitors[who].get(path.format(id=chat.pk))
        login = response.status_code == 302 and "login" in response["Location"]
        got[who] = LOGIN if login else response.status_code
    assert got == dict(zip(WHO, expected, strict=True))


@pytest.mark.django_db
def test_the_dashboard_shows_the_agent_their_name_and_managers_the_export(visitors, chat):
    agent_page = visitors["agent"].get("/staff/").content.decode()
    manager_page = visitors["manager"].get(f"/staff/c/{chat.pk}/").content.decode()
    assert "Alice" in agent_page and 'data-testid="export"' not in agent_page
    assert 'data-testid="export"' in manager_page and f'data-open-conversation="{chat.pk}"' in manager_page


@pytest.mark.django_db
def test_a_manager_exports_a_whole_conversation(visitors, chat, alice):
    from chat import handoff

    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    handoff.internal_note_add(conversation_id=chat.pk, agent=alice, text="checked the ledger")
    response = visitors["manager"].get(f"/staff/c/{chat.pk}/export.json")
    data = json.loads(response.content)
    assert response["Content-Disposition"] == f'attachment; filename="conversation-{chat.pk}.json"'
    assert [(m["sender"], m["text"]) for m in data["messages"]] == [
        ("player", "my top-up is missing"),
        ("system", "Alice has joined the chat."),
        ("agent", "checked the ledger"),
    ]
    assert data["messages"][2]["internal"] is True
    assert [e["kind"] for e in data["events"]] == ["taken_over"]


@pytest.mark.django_db
def test_only_managers_get_the_export_action_in_the_admin(visitors, chat):
    agent_list = visitors["agent"].get("/admin/chat/conversation/").content.decode()
    manager_list = visitors["manager"].get("/admin/chat/conversation/").content.decode()
    assert "export_json" not in agent_list and "export_json" in manager_list
    assert f"/staff/c/{chat.pk}/" in agent_list  # the live view link

    form = {"action": "export_csv", "_selected_action": [chat.pk]}
    exported = visitors["manager"].post("/admin/chat/conversation/", form)
    assert exported["Content-Type"].startswith("text/csv")
    assert "my top-up is missing" in exported.content.decode()
    refused = visitors["agent"].post("/admin/chat/conversation/", form)
    assert not refused.get("Content-Type", "").startswith("text/csv")


@pytest.mark.django_db
def test_a_player_message_typed_as_a_formula_is_text_in_the_admins_csv_export(visitors, chat):
    message_append(conversation_id=chat.pk, sender="player", text="=cmd|' /C calc'!A0", client_id="c2")
    message_append(conversation_id=chat.pk, sender="player", text="@SUM(1+1)*cmd", client_id="c3")

    form = {"action": "export_csv", "_selected_action": [chat.pk]}
    exported = visitors["manager"].post("/admin/chat/conversation/", form).content.decode()
    texts = [row[-1] for row in csv.reader(io.StringIO(exported))][1:]
    assert texts == ["my top-up is missing", "'=cmd|' /C calc'!A0", "'@SUM(1+1)*cmd"]


@pytest.mark.django_db
def test_the_admin_finds_conversations_by_player_id_and_text(visitors, chat, kai):
    other = Conversation.objects.create(player=kai)
    message_append(conversation_id=other.pk, sender="player", text="banned for no reason", client_id="k1")
    by_id = visitors["agent"].get("/admin/chat/conversation/", {"q": "10086"}).context["cl"].result_list
    by_text = visitors["agent"].get("/admin/chat/conversation/", {"q": "banned"}).context["cl"].result_list
    waiting = visitors["agent"].get("/admin/chat/conversation/", {"state__exact": "waiting"}).context["cl"]
    assert [c.pk for c in by_id] == [chat.pk]
    assert [c.pk for c in by_text] == [other.pk]
    assert list(waiting.result_list) == []


# --- Sockets -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_only_agents_and_managers_open_the_staff_socket(lin, pete, alice, mia):
    player_cookie = f"{settings.PLAYER_COOKIE_NAME}={player_cookie_value(lin.pk)}"
    pete_cookie = await sync_to_async(session_cookie)(pete)
    for cookie in ("", player_cookie, pete_cookie):
        assert await StaffSocket(cookie).refused_with() == 4403

    for user, roles in ((alice, ["agent"]), (mia, ["manager"])):
        sock = await StaffSocket.of(user)
        hello = await sock.connect()
        await sock.close()
        assert hello["me"]["roles"] == roles


@pytest.mark.django_db(transaction=True)
async def test_a_staff_login_is_not_a_player(alice):
    from channels.testing import WebsocketCommunicator

    from csbot.asgi import application

    cookie = await sync_to_async(session_cookie)(alice)
    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie.encode())]
    connected, _ = await WebsocketCommunicator(application, "/ws/chat/", headers=headers).connect()
    assert not connected


@pytest.mark.django_db(transaction=True)
async def test_a_player_never_reads_another_players_conversation(lin, kai, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    other = PlayerSocket(kai.pk)
    other_welcome = await other.connect()
    player = PlayerSocket(lin.pk)
    welcome = await player.connect()
    await player.say("How do I get a refund?")
    await player.receive_until(lambda f: f.get("type") == "end")
    await player.close()

    await other.send({"type": "resume", "after_seq": 0, "streams": {}})
    seen = await other.receive_until(lambda f: f.get("type") == "resumed")
    await other.send({"type": "handoff"})
    own = await other.receive_until(lambda f: f.get("type") == "state")
    await other.close()

    assert other_welcome["conversation"]["id"] != welcome["conversation"]["id"]
    assert seen == [{"type": "resumed", "seq": 0}]  # nothing of Lin's, live or stored
    lin_chat = await sync_to_async(Conversation.objects.get)(pk=welcome["conversation"]["id"])
    assert lin_chat.state == "bot"  # Kai's handoff touched only Kai's chat
    assert own[-1]["state"] == "waiting"


@pytest.mark.django_db(transaction=True)
async def test_a_staff_socket_reads_any_conversation_and_a_missing_one_is_an_error(lin, alice):
    chat = await sync_to_async(Conversation.objects.create)(player=lin)
    sock = await StaffSocket.of(alice)
    await sock.connect()
    frames = await sock.watch(chat.pk)
    await sock.send({"type": "watch", "conversation_id": 999999})
    missing = await sock.receive_until(lambda f: f.get("type") == "error")
    await sock.send({"type": "take_over", "conversation_id": 999999})
    missing_action = await sock.receive_until(lambda f: f.get("type") == "error")
    await sock.close()

    assert next(f for f in frames if f.get("type") == "case")["conversation"]["id"] == chat.pk
    assert missing["code"] == "not_found" and missing_action["code"] == "not_found"


def _deactivate(user) -> None:
    user.is_active = False
    user.save()


def _drop_role(user) -> None:
    user.groups.clear()


def _sign_out_everywhere(user) -> None:
    from django.contrib.sessions.models import Session

    for session in Session.objects.all():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            session.delete()


def _change_password(user) -> None:
    user.set_password("a-new-password-2026")
    user.save()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("revoke", [_deactivate, _drop_role, _sign_out_everywhere, _change_password])
async def test_an_open_dashboard_loses_a_chat_once_its_agents_access_is_taken_away(
    lin, alice, bob, revoke, monkeypatch
):
    from chat import staff_consumer

    monkeypatch.setattr(staff_consumer, "ACCESS_CHECK_SECONDS", 0.2, raising=False)
    chat = await sync_to_async(Conversation.objects.create)(player=lin)
    sock, colleague = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await sock.connect()
    await colleague.connect()
    await sock.watch(chat.pk)

    await sync_to_async(revoke)(alice)
    assert await sock.closed_with() == 4403  # the page loads again: the sign-in page, or a refusal
    # A colleague still signed in keeps the dashboard past several checks.
    await asyncio.sleep(0.6)
    await colleague.send({"type": "ping"})
    assert (await colleague.receive_until(lambda f: f.get("type") == "pong")) == {"type": "pong"}
    await colleague.close()


@pytest.mark.django_db(transaction=True)
async def test_a_page_on_another_site_cannot_open_the_sockets_with_the_visitors_cookies(lin, alice):
    """Cross-site WebSocket hijacking: the browser sends the cookies, the Origin says who asked."""
    from channels.testing import WebsocketCommunicator

    from csbot.asgi import application

    staff = await sync_to_async(session_cookie)(alice)
    player = f"{settings.PLAYER_COOKIE_NAME}={player_cookie_value(lin.pk)}"
    for path, cookie in (("/ws/staff/", staff), ("/ws/chat/", player)):
        for origin in (b"https://evil.example", b"http://localhost.evil.example", None):
            headers = [(b"host", b"localhost"), (b"cookie", cookie.encode())]
            headers += [(b"origin", origin)] if origin else []
            connected, _ = await WebsocketCommunicator(application, path, headers=headers).connect()
            assert not connected, (path, origin)
