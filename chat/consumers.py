"""The player's WebSocket. Thin: validate a frame, call a service, relay events.

Frames are documented in docs/protocol.md. The consumer never waits on an LLM
stream: answers run as jobs (chat/streaming/jobs.py) and reach every socket of
the conversation through chat/streaming/fanout.py, which the socket joins.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from agents import services as agent_services
from agents.services import FormInvalid
from chat import resume, selectors, services, staff_notify
from chat.events import conversation_group, publish
from chat.flood import flood_guard, flood_note
from chat.frames import ack_frame, dumps, error_frame, message_frame
from chat.handoff import Reason, wants_human
from chat.identity import player_id_from_cookie
from chat.models import Player
from chat.player_sockets import ask_who_is_connected, player_sockets, presence_frame
from chat.socket_base import SocketConsumer
from chat.streaming.fanout import fanout
from chat.streaming.jobs import answer_claim, receive_and_start, registry, start_answer
from chat.streaming.lifecycle import only_process
from chat.streaming.recovery import answer_left_behind
from chat.validation import FrameError, frame_error_text, parse_client_frame
from csbot.db import db_pool
from csbot.helper_pool import HelperDied, helper_pool

log = logging.getLogger(__name__)


# The connect's and the message's database work runs in a helper process, off the
# streams' GIL (csbot/helper_pool.py): a burst of players connecting would otherwise
# hold up the chunks of every answer this process is streaming.
_connect = helper_pool(services.player_connect, priority=1)
_seen = helper_pool(services.player_seen)
_check_form = db_pool(agent_services.form_submission_check)
_record = db_pool(services.internal_event_record)
_rate = db_pool(services.conversation_rate)
_state = db_pool(selectors.conversation_state)

# The close code of a socket opened on a process that is stopping (docs/protocol.md).
RESTARTING = 4503

# A player's typing is relayed to staff at most this often.
TYPING_EVERY_SECONDS = 2.0


class PlayerConsumer(SocketConsumer):
    player: Player
    conversation_id: int

    async def connect(self) -> None:
        if registry().stopping:
            # This process is about to exit (a deploy): the page reconnects, and finds one that stays.
            await self.close(code=RESTARTING)
            return
        cookie = self.scope.get("cookies", {}).get(settings.PLAYER_COOKIE_NAME)
        player_id = player_id_from_cookie(cookie)
        connected = await _connect(player_id=player_id) if player_id else None
        if connected is None:
            await self.close(code=4401)
            return
        self.player = connected.player
        self.language = self.player.language or "en"
        self.connected_at = connected.seen_at
        await self.accept()
        await self._follow(
            connected.conversation_id, connected.state, previous=connected.previous, agent_name=connected.agent_name
        )
        await self._publish_presence(online=True, at=connected.seen_at)

    async def _follow(
        self, conversation_id: int, state: str, *, previous: dict | None = None, agent_name: str = ""
    ) -> None:
        before = getattr(self, "conversation_id", None)
        if before not in (None, conversation_id):
            await fanout().leave(conversation_group(before), self)
            registry().release(before)
            player_sockets().closed(before)
            del self.conversation_id  # released: a failed hold below must not release it again
        # Held from here, the conversation's answers start with this process already able
        # to hear a takeover's cancellation (chat/streaming/jobs.py), and a dashboard's
        # question whether the player is here (chat/player_sockets.py).
        await registry().hold(conversation_id)
        self.conversation_id = conversation_id
        player_sockets().opened(conversation_id, self.connected_at)
        await fanout().join(conversation_group(conversation_id), self)
        conversation = {"id": conversation_id, "state": state}
        if agent_name:  # as in a `state` frame: the page names who the player is talking to
            conversation["agent"] = {"name": agent_name}
        welcome = {
            "type": "welcome",
            "conversation": conversation,
            "player": {"id": str(self.player.public_id), "name": self.player.label},
            "limits": {"max_chars": settings.CHAT_MAX_MESSAGE_CHARS},
        }
        if previous is not None:  # a chat closed while they were away (docs/protocol.md)
            welcome["previous"] = previous
        await self._send(welcome)

    async def disconnect(self, code: int) -> None:
        # The answer job goes on: the player may come back, staff may be watching.
        if hasattr(self, "conversation_id"):
            registry().release(self.conversation_id)
            await fanout().leave(conversation_group(self.conversation_id), self)
            last_here = player_sockets().closed(self.conversation_id)
            seen_at = await _seen(player_id=self.player.pk)
            if last_here:  # not while another tab of theirs, here, is still connected
                await self._publish_presence(online=False, at=seen_at)
                if not only_process():
                    # A tab of theirs on another process (a proxy without sticky sessions)
                    # answers the question with `online`, which staff get after this `offline`.
                    await ask_who_is_connected(self.conversation_id)

    async def _publish_presence(self, *, online: bool, at: datetime) -> None:
        """Staff watching the chat see when the player's connection comes and goes."""
        await publish(self.conversation_id, presence_frame(self.conversation_id, online=online, at=at), internal=True)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_client_frame(text_data, bytes_data)
        except FrameError as exc:
            await self._reject(exc)
            return
        handler = getattr(self, f"on_{frame['type']}")
        await handler(frame)

    async def on_ping(self, frame: dict) -> None:
        await self._send({"type": "pong"})

    async def on_resume(self, frame: dict) -> None:
        async with self.live_frames_after() as send_now:
            for out in await resume.frames_for(self.conversation_id, frame["after_seq"], frame["streams"]):
                await send_now(out)

    async def on_send(self, frame: dict) -> None:
        allowed, first_refusal = flood_guard().admit(self.player.pk)
        if not allowed:  # staff hear of a flood once, not of each message in it
            refused = FrameError("slow_down", flood_note(frame["text"]), client_id=frame["client_id"])
            await self._reject(refused, tell_staff=first_refusal)
            return
        meta = {"intent": frame["intent"]} if frame.get("intent") else None
        await self._accept(frame["client_id"], frame["text"], meta)

    async def on_form_submit(self, frame: dict) -> None:
        """An inline form the bot showed (docs/protocol.md): stored as the player's message."""
        try:
            text, values = await _check_form(
                conversation_id=self.conversation_id, form_id=frame["form_id"], values=frame["values"]
            )
        except FormInvalid as exc:
            with translation.override(self.language):
                if exc.unknown:
                    message = _("This form can no longer be sent. Please type your answer instead.")
                else:
                    message = _("Please check: %(fields)s") % {"fields": ", ".join(exc.fields.values())}
            error = error_frame("invalid_form", message, client_id=frame["client_id"])
            await self._send({**error, "form_id": frame["form_id"], "fields": sorted(exc.fields)})
            return
        meta = {"form_id": frame["form_id"], "form_values": values}
        await self._accept(frame["client_id"], text, meta)

    async def _accept(self, client_id: str, text: str, meta: dict | None) -> None:
        if registry().stopping:
            # Its answer would be cut off when the process exits. The page puts the message back
            # in the box; closed (unless an answer of theirs is finishing here), it reconnects
            # at once to a process that stays, where the player sends it again.
            await self._reject(FrameError("restarting", "", client_id=client_id), tell_staff=False)
            if not registry().busy(self.conversation_id):
                await self.close(code=RESTARTING)
            return
        # Claimed first, the answer is started by the same helper call that stores the
        # question (one wait for a helper, not two), and a takeover meanwhile still stops it.
        with answer_claim(self.conversation_id) as claim:
            try:
                received, start = await receive_and_start(
                    start=claim is not None,
                    player=self.player,
                    conversation_id=self.conversation_id,
                    client_id=client_id,
                    text=text,
                    meta=meta,
                )
                if not received.created and claim is not None and received.conversation_id == claim.conversation_id:
                    # A resend: the call that stored it may have died before its answer's job
                    # started (chat/streaming/recovery.py). Nothing of the chat runs here now.
                    start = await answer_left_behind(received.conversation_id, received.message.pk)
            except HelperDied:
                # The helper was killed mid-call: the question may or may not be stored. The
                # socket stays; the page keeps the message and sends it again, and that
                # resend is stored once, or finds it stored and starts its answer if need be.
                log.warning("a helper died during a question's call", exc_info=True)
                with translation.override(self.language):
                    notice = _("Something went wrong on our side. Your message will be sent again in a moment.")
                await self._send(error_frame("try_again", notice, client_id=client_id))
                return
            if received.conversation_id != self.conversation_id:
                await self._follow(received.conversation_id, received.state)
            message = received.message
            await self._send(ack_frame(client_id, message.pk, message.seq, not received.created))
            if received.created:
                # The player's other tabs and staff; this socket has the ack.
                await publish(self.conversation_id, message_frame(message), exclude=self)
            if received.answer and wants_human(message.text):
                await staff_notify.escalate(self.conversation_id, Reason.PLAYER_REQUEST)
            elif received.waits:
                # Another answer of the chat streams, maybe on another process (the player's other
                # tab): its job answers this question when it ends, so the two never interleave.
                pass
            elif received.answer or start is not None:  # a new question, or one whose answer was left behind
                start_answer(self.conversation_id, message.pk, claim=claim, start=start)
        if received.created:
            await staff_notify.row_changed(self.conversation_id)

    async def on_handoff(self, frame: dict) -> None:
        """The player asks for a human (the button)."""
        if not await staff_notify.escalate(self.conversation_id, Reason.PLAYER_REQUEST):
            await self._send({"type": "state", "state": await _state(conversation_id=self.conversation_id)})

    async def on_back_to_bot(self, frame: dict) -> None:
        """The player, waiting for a person, goes on with the bot (the button while waiting)."""
        if not await staff_notify.player_back_to_bot(self.conversation_id):
            await self._send({"type": "state", "state": await _state(conversation_id=self.conversation_id)})

    async def on_csat(self, frame: dict) -> None:
        """The player rates a conversation that was closed (the card shown on close)."""
        try:
            await _rate(player=self.player, **{k: frame[k] for k in ("conversation_id", "score", "comment")})
        except services.RatingRefused:
            with translation.override(self.language):
                await self._send(error_frame("csat_refused", _("This conversation can't be rated.")))
            return
        await self._send({"type": "csat_thanks", "conversation_id": frame["conversation_id"]})

    async def on_typing(self, frame: dict) -> None:
        now = time.monotonic()
        if now - getattr(self, "_typing_at", 0.0) < TYPING_EVERY_SECONDS:
            return
        self._typing_at = now
        typing = {"type": "typing", "who": "player", "conversation_id": self.conversation_id}
        await publish(self.conversation_id, typing, internal=True)

    async def _reject(self, exc: FrameError, *, tell_staff: bool = True) -> None:
        """Refuse a bad frame, keep the connection, and let staff see what happened."""
        with translation.override(self.language):
            text = frame_error_text(exc.code)
        await self._send(error_frame(exc.code, text, client_id=exc.client_id))
        if not tell_staff:
            return
        note = await _record(conversation_id=self.conversation_id, text=exc.staff_note, code=exc.code)
        await publish(self.conversation_id, message_frame(note), internal=True)

    async def _send(self, frame: dict) -> None:
        await self.send(text_data=dumps(frame))
