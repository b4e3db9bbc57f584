"""The staff dashboard's WebSocket `/ws/staff/` (docs/protocol.md, Staff socket).

Thin like the player's: validate a frame, check the role, call a service, relay
group events. Only users in the groups `agent` or `manager`, and superusers, get
in; everyone else is closed with 4403.

A dashboard is in the group `staff` (list rows), `staff.alerts` (analytics
alerts) and follows, for the one conversation it watches, `conv.<id>` (exactly
the frames the player gets, deltas included) and `conv.<id>.staff` (notes,
case) through chat/streaming/fanout.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import translation
from django.utils.translation import get_supported_language_variant, ngettext
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from chat import handoff, presence, resume, staff_selectors, staff_sessions
from chat.events import conversation_group, publish, staff_group
from chat.frames import ack_frame, dumps, error_frame, message_frame
from chat.handoff import HandoffError
from chat.models import Conversation
from chat.player_sockets import ask_who_is_connected
from chat.roles import display_name, roles_of, sign_in_stands
from chat.socket_base import SocketConsumer
from chat.staff_notify import STAFF_ALERTS_GROUP, STAFF_GROUP, announce, publish_staff, row_changed
from chat.streaming.fanout import fanout
from chat.streaming.jobs import start_answer
from chat.validation import FrameError, frame_error_text
from csbot.db import db_pool

from .staff_validation import parse_staff_frame

# A typing frame is relayed at most this often per socket.
TYPING_EVERY_SECONDS = 2.0
# A ping refreshes the agent's presence at most this often.
SEEN_EVERY_SECONDS = 20.0
# A socket's sign-in is checked again this often: a dashboard whose user was deactivated,
# lost their role, was signed out, had their password changed or left it idle
# (STAFF_SESSION_IDLE_MINUTES) is closed (4403) within it.
ACCESS_CHECK_SECONDS = 20.0
# What a person does on the dashboard, which keeps their session from idling out
# (chat/staff_sessions.py); not what the page sends by itself (ping, resume, case, and the
# list and watch it sends again on every reconnect, such as a deploy's).
PERSONS_FRAMES = frozenset(
    {"send", "note", "typing", "take_over", "hand_back", "transfer", "close", "status", "agents"}
)

_roles = database_sync_to_async(roles_of)
_connect = db_pool(presence.presence_connect)
_disconnect = db_pool(presence.presence_disconnect)
_seen = db_pool(presence.presence_seen)
_set_status = db_pool(presence.presence_set_status)
_roster = db_pool(presence.roster)
_list = db_pool(staff_selectors.conversation_list)
_counts = db_pool(staff_selectors.queue_counts)
_mine = db_pool(staff_selectors.my_chats)
_elsewhere = db_pool(staff_selectors.search_found_elsewhere)
_case = db_pool(staff_selectors.case_of)
_assign_waiting = db_pool(handoff.assign_waiting)
_agent_send = db_pool(handoff.agent_message_send)
_note = db_pool(handoff.internal_note_add)
_may_type = db_pool(handoff.agent_typing_check)
_sign_in_stands = db_pool(sign_in_stands)
_renew_session = db_pool(staff_sessions.staff_session_renew)


@db_pool
def _active_alerts(language: str) -> list[str]:
    from analytics.hooks import active_alert_frames

    return active_alert_frames(language)


def language_of(scope: dict) -> str:
    """The dashboard's language, chosen as LocaleMiddleware chose the page's: the language cookie,
    else the browser's Accept-Language, else LANGUAGE_CODE; as a code of settings.LANGUAGES."""
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    wanted = [scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)]
    wanted += [code for code, _q in parse_accept_lang_header(accept) if code != "*"]
    for code in wanted:
        if code:
            try:
                return get_supported_language_variant(code)
            except LookupError:
                continue
    return settings.LANGUAGE_CODE


@db_pool
def _exists(conversation_id: int) -> bool:
    return Conversation.objects.filter(pk=conversation_id).exists()


@db_pool
def _me(user) -> dict[str, Any]:
    profile = presence.profile_for(user)
    return {
        "id": user.pk,
        "name": display_name(user),
        "roles": sorted(roles_of(user)),
        "status": profile.status,
        "max_chats": profile.max_chats,
    }


@db_pool
def _act(action: str, frame: dict, user) -> handoff.Change | None:
    cid = frame["conversation_id"]
    if action == "take_over":
        return handoff.conversation_take_over(conversation_id=cid, agent=user)
    if action == "hand_back":
        return handoff.conversation_hand_back(conversation_id=cid, agent=user)
    if action == "transfer":
        return handoff.conversation_transfer(conversation_id=cid, agent=user, to_user_id=frame["to"])
    return handoff.conversation_close(conversation_id=cid, actor=user)


def not_holder_text(action: str, holder) -> str:
    """Why an action on a chat this person does not hold was refused, by that action's rule
    (chat/handoff.py). One text for all, "Only the agent holding this chat (or a manager) can do
    that.", told a manager her refused reply was a manager's to send: she may hand back,
    transfer or close a chat someone holds, but writes (and types) only in one she holds.
    `holder`: who holds the chat, None when nobody does (take it over first). Call translated."""
    if action == "typing":
        return _("Only the agent holding this chat can type to its player.")
    if holder is None:
        if action == "send":
            return _("Take this chat over to write to its player.")
        if action == "transfer":
            return _("Nobody holds this chat: take it over before transferring it.")
        return _("Nobody holds this chat: take it over before handing it back.")
    name = {"name": display_name(holder)}
    if action == "send":
        return _("%(name)s is handling this chat: only they can write to its player.") % name
    if action == "transfer":
        return _("Only %(name)s, who holds this chat, or a manager can transfer it.") % name
    if action == "close":
        return _("Only %(name)s, who holds this chat, or a manager can close it.") % name
    return _("Only %(name)s, who holds this chat, or a manager can hand it back.") % name


class StaffConsumer(SocketConsumer):
    allowed = False
    revoked = False
    watching: int | None = None
    _access_check: asyncio.Task | None = None

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        roles = await _roles(self.user) if self.user is not None else set()
        # Accept, then close: a browser only sees the close code of an accepted socket.
        await self.accept()
        if not roles:
            await self.close(code=4403)
            return
        self.allowed = True
        self._session_key = getattr(self.scope.get("session"), "session_key", None)
        self._renewed_at = -staff_sessions.RENEW_EVERY_SECONDS  # the first thing done renews
        self._access_check = asyncio.create_task(self._check_access_forever())
        self.language = language_of(self.scope)
        self._typing_at = 0.0
        self._seen_at = time.monotonic()
        for group in (STAFF_GROUP, STAFF_ALERTS_GROUP):
            await self.channel_layer.group_add(group, self.channel_name)
        await _connect(user=self.user)
        await self._send({"type": "hello", "me": await _me(self.user), "agents": await _roster()})
        for alert in await _active_alerts(self.language):  # what this dashboard missed; new ones come through the group
            await self.send(text_data=alert)
        await self._roster_changed()
        await self._assign_waiting()

    async def disconnect(self, code: int) -> None:
        if not self.allowed:
            return
        if self._access_check is not None:
            self._access_check.cancel()
        for group in (STAFF_GROUP, STAFF_ALERTS_GROUP):
            await self.channel_layer.group_discard(group, self.channel_name)
        await self._unwatch()
        await _disconnect(user=self.user)
        await self._roster_changed()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.allowed or self.revoked:
            return
        try:
            frame = parse_staff_frame(text_data, bytes_data)
        except FrameError as exc:
            # The code is for the page, the words for the agent: in their language, as the
            # player's socket does (str(exc) is an internal note, in English).
            with translation.override(self.language):
                text = frame_error_text(exc.code)
            await self._send(error_frame(exc.code, text, client_id=exc.client_id))
            return
        if frame["type"] in PERSONS_FRAMES and not await self._session_renewed():
            return
        await getattr(self, f"on_{frame['type']}")(frame)

    async def _session_renewed(self) -> bool:
        """The staff member is here: their session's idle timeout starts again (at most once a
        minute). False, and the socket closed, when it had run out: what they sent is not done."""
        if time.monotonic() - self._renewed_at < staff_sessions.RENEW_EVERY_SECONDS:
            return True
        self._renewed_at = time.monotonic()
        try:
            renewed = await _renew_session(self._session_key)
        except Exception:  # the database down: the frame fails or succeeds on its own
            return True
        if not renewed:
            await self._revoke()
        return renewed

    async def _check_access_forever(self) -> None:
        """Checked on a timer, not on the dashboard's pings: a socket that only listens
        (the live chats of every player it watches) must lose them too."""
        while True:
            await asyncio.sleep(ACCESS_CHECK_SECONDS)
            with contextlib.suppress(Exception):  # the database down: checked again next time
                if not await _sign_in_stands(self._session_key, self.user.pk):
                    break
        await self._revoke()

    async def _revoke(self) -> None:
        if self.revoked:
            return
        self.revoked = True
        await self._unwatch()
        for group in (STAFF_GROUP, STAFF_ALERTS_GROUP):
            await self.channel_layer.group_discard(group, self.channel_name)
        # The page loads itself again: the sign-in page, or the refusal of an account without
        # access; disconnect() cleans up.
        await self.close(code=4403)

    # --- presence and lists ---------------------------------------------------------

    async def on_ping(self, frame: dict) -> None:
        await self._send({"type": "pong"})
        if time.monotonic() - self._seen_at >= SEEN_EVERY_SECONDS:
            self._seen_at = time.monotonic()
            await _seen(user=self.user)

    async def on_list(self, frame: dict) -> None:
        rows = await _list(user=self.user, filter=frame["filter"], q=frame["q"])
        counts = await _counts(user=self.user)
        mine = await _mine(user=self.user)
        listed = {
            "type": "list",
            "filter": frame["filter"],
            "q": frame["q"],
            "conversations": rows,
            "counts": counts,
            "mine": mine["mine"],
            "awaiting": mine["awaiting"],
        }
        if frame["q"].strip() and not rows:
            listed["elsewhere"] = await _elsewhere(user=self.user, filter=frame["filter"], q=frame["q"])
        await self._send(listed)

    async def on_agents(self, frame: dict) -> None:
        await self._send({"type": "agents", "agents": await _roster()})

    async def on_status(self, frame: dict) -> None:
        await _set_status(user=self.user, status=frame["status"])
        await self._roster_changed()
        await self._assign_waiting()

    # --- watching a conversation ------------------------------------------------------

    async def on_watch(self, frame: dict) -> None:
        conversation_id = frame["conversation_id"]
        if not await _exists(conversation_id):
            await self._refuse("not_found", _("There is no such conversation."), frame)
            return
        await self._unwatch()
        self.watching = conversation_id
        async with self.live_frames_after() as send_now:
            await fanout().join(conversation_group(conversation_id), self)
            await fanout().join(staff_group(conversation_id), self)
            await send_now(dumps({"type": "case", "conversation": await _case(conversation_id)}))
            await self._resume(frame, send_now)
        # The player's connection: it was told before this socket watched (chat/player_sockets.py).
        await ask_who_is_connected(conversation_id)

    async def on_unwatch(self, frame: dict) -> None:
        await self._unwatch()

    async def on_case(self, frame: dict) -> None:
        """The case panel again (intent, facts, sources change as the bot answers)."""
        if not await _exists(frame["conversation_id"]):
            await self._refuse("not_found", _("There is no such conversation."), frame)
            return
        await self._send({"type": "case", "conversation": await _case(frame["conversation_id"])})

    async def on_resume(self, frame: dict) -> None:
        if self.watching is not None:
            async with self.live_frames_after() as send_now:
                await self._resume(frame, send_now)

    async def _resume(self, frame: dict, send_now) -> None:
        frames = await resume.frames_for(self.watching, frame["after_seq"], frame["streams"], include_internal=True)
        for out in frames:
            await send_now(out)

    async def _unwatch(self) -> None:
        if self.watching is not None:
            await fanout().leave(conversation_group(self.watching), self)
            await fanout().leave(staff_group(self.watching), self)
            self.watching = None

    # --- handoff actions -----------------------------------------------------------------

    async def on_take_over(self, frame: dict) -> None:
        await self._act("take_over", frame)

    async def on_hand_back(self, frame: dict) -> None:
        await self._act("hand_back", frame)

    async def on_close(self, frame: dict) -> None:
        await self._act("close", frame)

    async def on_transfer(self, frame: dict) -> None:
        await self._act("transfer", frame)

    async def _act(self, action: str, frame: dict) -> None:
        try:
            change = await _act(action, frame, self.user)
        except Conversation.DoesNotExist:
            await self._refuse("not_found", _("There is no such conversation."), frame)
            return
        except HandoffError as exc:
            await self._refuse_handoff(exc, frame)
            return
        # announce() stops the bot's answer first: that is what the player waits on.
        await announce(change)
        if change is not None and change.answer is not None:
            start_answer(change.conversation_id, change.answer)  # after "You are chatting with our assistant again."
        await self._send({"type": "ok", "action": action, "conversation_id": frame["conversation_id"]})
        if action != "take_over":
            await self._assign_waiting()  # room for one more chat

    # --- writing -------------------------------------------------------------------------

    async def on_send(self, frame: dict) -> None:
        cid = frame["conversation_id"]
        try:
            message, created = await _agent_send(
                conversation_id=cid, agent=self.user, client_id=frame["client_id"], text=frame["text"]
            )
        except (HandoffError, Conversation.DoesNotExist) as exc:
            await self._refuse_handoff(exc, frame)
            return
        await self._send(ack_frame(frame["client_id"], message.pk, message.seq, not created))
        if created:
            await publish(cid, message_frame(message))
            await row_changed(cid)

    async def on_note(self, frame: dict) -> None:
        cid, client_id = frame["conversation_id"], frame["client_id"]
        try:
            note, created = await _note(conversation_id=cid, agent=self.user, client_id=client_id, text=frame["text"])
        except Conversation.DoesNotExist as exc:
            await self._refuse_handoff(exc, frame)
            return
        if client_id:
            await self._send(ack_frame(client_id, note.pk, note.seq, not created))
        if created:
            await publish(cid, message_frame(note), internal=True)
            # The list shows a chat's latest message, a note too (in italics): without this
            # the row kept the reply before it until the dashboard was loaded again.
            await row_changed(cid)

    async def on_typing(self, frame: dict) -> None:
        now = time.monotonic()
        if now - self._typing_at < TYPING_EVERY_SECONDS:
            return
        self._typing_at = now
        cid = frame["conversation_id"]
        try:
            await _may_type(conversation_id=cid, agent=self.user)
        except (HandoffError, Conversation.DoesNotExist) as exc:
            await self._refuse_handoff(exc, frame)
            return
        typing = {"type": "typing", "who": "agent", "name": display_name(self.user), "agent_id": self.user.pk}
        await publish(cid, {**typing, "conversation_id": cid})

    # --- helpers ---------------------------------------------------------------------------

    async def _roster_changed(self) -> None:
        await publish_staff({"type": "agents", "agents": await _roster()})

    async def _assign_waiting(self) -> None:
        for change in await _assign_waiting():
            await announce(change)

    async def _refuse_handoff(self, exc: Exception, frame: dict) -> None:
        extra: dict[str, Any] = {}
        with translation.override(self.language):
            if isinstance(exc, handoff.AlreadyTaken):
                holder = exc.holder
                extra["holder"] = {"id": holder.pk, "name": display_name(holder)} if holder else None
                text = (
                    _("%(name)s has this chat already.") % {"name": display_name(holder)}
                    if holder
                    else _("Someone else changed this chat a moment ago. Try again.")
                )
            elif isinstance(exc, handoff.AtCapacity) and exc.user.pk == self.user.pk:
                # Take over at capacity: "Alice already holds 5 chats" read to Alice as about
                # someone else, and did not say what would let her take this one.
                text = ngettext(
                    "You already hold %(max)s chat, the most allowed: close or hand back one to take another.",
                    "You already hold %(max)s chats, the most allowed: close or hand back one to take another.",
                    exc.max_chats,
                ) % {"max": exc.max_chats}
            elif isinstance(exc, handoff.AtCapacity):
                text = ngettext(
                    "%(name)s already holds %(max)s chat, the most allowed.",
                    "%(name)s already holds %(max)s chats, the most allowed.",
                    exc.max_chats,
                ) % {"name": display_name(exc.user), "max": exc.max_chats}
            elif isinstance(exc, handoff.NotAvailable):
                name = {"name": display_name(exc.user)}
                text = (
                    _("%(name)s is away. Transfer the chat to someone who is online.") % name
                    if exc.status == "away"
                    else _("%(name)s is offline. Transfer the chat to someone who is online.") % name
                )
            elif isinstance(exc, handoff.NotHolder):
                text = not_holder_text(frame["type"], exc.holder)
            elif isinstance(exc, handoff.ConversationClosed):
                text = _("This conversation is closed.")
            elif isinstance(exc, handoff.NotStaff):
                text = _("That person is not a support agent.")
            else:
                text = _("There is no such conversation.")
        code = getattr(exc, "code", "not_found")
        await self._refuse(code, text, frame, **extra)

    async def _refuse(self, code: str, text: str, frame: dict, **extra: Any) -> None:
        refusal = {**error_frame(code, text, client_id=frame.get("client_id")), "action": frame["type"], **extra}
        if "conversation_id" in frame:
            refusal["conversation_id"] = frame["conversation_id"]
        await self._send(refusal)

    async def relay(self, event: dict) -> None:
        """The groups `staff` and `staff.alerts` (conversations come through chat/streaming/fanout.py).

        An alert comes in every language (`frames`): this dashboard gets the one it reads."""
        frames = event.get("frames") or {}
        await self.send(text_data=frames.get(self.language) or event["frame"])

    async def _send(self, frame: dict) -> None:
        await self.send(text_data=dumps(frame))
