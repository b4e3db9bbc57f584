"""Handing a chat between the bot and people: escalation, takeover, hand-back,
transfer, close, and what agents write (design-notes §4).

Every function here is synchronous and does its writes in one transaction. A
state change returns a Change; the async caller (chat/staff_notify.py) publishes
it after the commit and, when `change.cancel` says so, stops the bot's answer.
Races are settled in the database: a takeover is one conditional UPDATE, and
exactly one agent wins.

Each change records a ConversationEvent (the audit trail analytics reads) and a
system message in the chat's language (the one the bot answers in, from what the
player writes, not the page's), which both the player and staff see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from chat import presence, staff_selectors
from chat.models import AgentProfile, Conversation, ConversationEvent, Message
from chat.roles import display_name, is_manager, is_staff_member
from chat.selectors import conversation_language
from chat.services import message_append

State = Conversation.State
Kind = ConversationEvent.Kind


class Reason:
    """Why a chat was escalated (ConversationEvent.reason, Conversation.handoff_reason)."""

    PLAYER_REQUEST = "player_request"
    DONT_KNOW = "dont_know"
    SENTIMENT = "sentiment"
    UPSTREAM_ERROR = "upstream_error"
    BOT_ERROR = "bot_error"
    BOT_REQUEST = "bot_request"  # agents/ asked for a human (meta["escalate"])
    AGENT_LEFT = "agent_left"  # the holder's dashboard was gone too long (abandoned_chats_requeue)


# What staff read for each reason, in their language: the dashboard (staff_views.case_labels)
# and the analytics pages. `agent_takeover` is analytics' reason for a chat an agent took
# without an escalation (docs/metrics.md). An unknown code is shown as it is.
REASON_LABELS: dict[str, Promise] = {
    Reason.PLAYER_REQUEST: _("the player asked for a person"),
    Reason.DONT_KNOW: _("the bot could not answer"),
    Reason.SENTIMENT: _("the player is upset"),
    Reason.UPSTREAM_ERROR: _("the LLM failed"),
    Reason.BOT_ERROR: _("the bot failed"),
    Reason.BOT_REQUEST: _("the bot asked for a person"),
    Reason.AGENT_LEFT: _("the agent holding it left"),
    "agent_takeover": _("an agent stepped in"),
}


def reason_label(code: str) -> str:
    """In the active language; "unknown" for none (a chat analytics counts without one)."""
    return str(REASON_LABELS.get(code, code)) if code else str(_("unknown"))


class HandoffError(Exception):
    """A refused handoff action; `code` goes to the client (docs/protocol.md)."""

    code = "refused"


class AlreadyTaken(HandoffError):
    code = "already_taken"

    def __init__(self, holder) -> None:
        super().__init__(f"held by {holder}")
        self.holder = holder


class NotHolder(HandoffError):
    """The action is the holder's (a hand-back, transfer or close: or a manager's). `holder`: who
    holds the chat, None when nobody does (the bot or the queue has it), so that the refusal can
    say what would let this person do it: take it over, or nothing."""

    code = "not_holder"

    def __init__(self, message: str, holder=None) -> None:
        super().__init__(message)
        self.holder = holder


class AtCapacity(HandoffError):
    code = "at_capacity"

    def __init__(self, user, max_chats: int) -> None:
        super().__init__(f"{user} is at capacity ({max_chats} held)")  # for logs; staff read the code's words
        self.user = user
        self.max_chats = max_chats


class NotAvailable(HandoffError):
    """A transfer to someone who is away or has no dashboard open: the chat would sit unanswered."""

    code = "not_available"

    def __init__(self, user, status: str) -> None:  # status: "away" or "offline"
        super().__init__(f"{user} is not available ({status})")
        self.user = user
        self.status = status


class ConversationClosed(HandoffError):
    code = "closed"


class NotStaff(HandoffError):
    code = "not_staff"


@dataclass
class Change:
    """What a state change did, for the caller to publish after the commit."""

    conversation_id: int
    state: str
    # New messages to publish, in seq order (internal ones go to staff only).
    messages: list[Message] = field(default_factory=list)
    # The bot's answer in flight must stop (takeover, close, escalation).
    cancel: bool = False
    # ... in this process too: False when the caller is that answer's job (it escalates as it ends).
    cancel_here: bool = True
    # Who holds the chat now, for the player's `state` frame.
    agent_name: str = ""
    # The dashboards' list row (a `conversation` frame) and the case panel, after the change
    # (describe). A takeover's, a close's and an escalation's nobody was assigned to are read
    # by announce(), after the answer's stop.
    row: dict[str, Any] = field(default_factory=dict)
    case: dict[str, Any] = field(default_factory=dict)
    described: bool = False
    # A change that followed at once, e.g. an auto-assignment after an escalation.
    then: Change | None = None
    # The player's message the bot answers now (a hand-back while it was unanswered).
    answer: int | None = None
    # The chat's language, on a close: the player's rating card asks in it, as the line above it.
    language: str = ""


# --- Helpers --------------------------------------------------------------------


def _lock(conversation_id: int) -> Conversation:
    """Call inside a transaction: the conversation, locked until commit."""
    return Conversation.objects.select_for_update().select_related("player").get(pk=conversation_id)


def _system_note(
    conversation: Conversation, event: str, text: Promise, *, language: str = "", **params: str
) -> Message:
    """A line the player and staff see in the history, in the chat's language: `language`
    when the caller knows it (the answer it follows), else the one the chat's answers use
    (selectors.conversation_language), not the page's: a player on the English page who
    writes Chinese reads "Alice 已加入对话。" under the bot's Chinese answers."""
    language = language or conversation_language(conversation)
    with translation.override(language):
        shown = str(text) % params if params else str(text)
    return message_append(
        conversation_id=conversation.pk, sender=Message.Sender.SYSTEM, text=shown, meta={"event": event, **params}
    )


def _may_act_on(conversation: Conversation, user) -> bool:
    """The holder of a chat may hand it back, transfer or close it; so may managers."""
    return conversation.assignee_id == user.pk or is_manager(user)


def describe(change: Change) -> Change:
    """Call after the commit: the dashboard row and the case panel as they are now."""
    change.row = staff_selectors.row_frame(change.conversation_id)
    change.case = staff_selectors.case_of(change.conversation_id)
    change.described = True
    return change


def _refusal(conversation_id: int) -> HandoffError:
    conversation = Conversation.objects.select_related("assignee").get(pk=conversation_id)
    if conversation.state == State.CLOSED:
        return ConversationClosed("the conversation is closed")
    return AlreadyTaken(conversation.assignee)


def _check_capacity(user) -> AgentProfile:
    """Call inside a transaction: locks the agent's profile so their own takeovers queue."""
    presence.profile_for(user)
    profile = AgentProfile.objects.select_for_update().get(user=user)
    if presence.chats_held(user) >= profile.max_chats:
        raise AtCapacity(user, profile.max_chats)
    return profile


def _check_available(user) -> None:
    """Call inside a transaction: the agent has room and is there (online, a dashboard heard from lately).

    Read from the profile _check_capacity locked: a status change or a disconnect
    (an UPDATE of that row) waits for this transaction, so it cannot slip in between.
    """
    profile = _check_capacity(user)
    if not presence.is_online(profile):
        raise NotAvailable(user, "away" if profile.status == AgentProfile.Status.AWAY else "offline")


# --- Takeover and what follows ---------------------------------------------------


def conversation_take_over(
    *, conversation_id: int, agent, reason: str = "", if_available: bool = False
) -> Change | None:
    """Give the chat to `agent` if the bot or the queue still has it; None when `agent`
    holds it already (nothing changes).

    Raises AlreadyTaken (with the holder) when another agent got there first,
    ConversationClosed, AtCapacity or NotStaff. `if_available`: a chat given to the agent
    rather than taken by her (AUTO_ASSIGN) also needs her online, checked under the lock on
    her profile (NotAvailable): one who chose Away a moment after she was picked was given it.
    """
    if not is_staff_member(agent):
        raise NotStaff("only staff can take over a chat")
    if Conversation.objects.filter(pk=conversation_id, state=State.HUMAN, assignee=agent).exists():
        # A double click: refused, the second click read "Alice has this chat already." to
        # Alice herself (or, holding her last place, that she could take no more).
        return None
    with transaction.atomic():
        (_check_available if if_available else _check_capacity)(agent)
        updated = Conversation.objects.filter(pk=conversation_id, state__in=(State.BOT, State.WAITING)).update(
            state=State.HUMAN, assignee=agent, waiting_since=None, updated_at=timezone.now()
        )
        if updated != 1:
            refusal = _refusal(conversation_id)
            if isinstance(refusal, AlreadyTaken) and refusal.holder == agent:
                return None  # both clicks at once, from two of the agent's dashboards
            raise refusal
        conversation = Conversation.objects.select_related("player").get(pk=conversation_id)
        ConversationEvent.objects.create(conversation=conversation, kind=Kind.TAKEN_OVER, actor=agent, reason=reason)
        name = display_name(agent)
        note = _system_note(conversation, "taken_over", _("%(name)s has joined the chat."), name=name)
    # Not described here: the bot's answer would stream on while the row and the case panel
    # are read (24-244 ms on a busy machine); announce() stops it first.
    return Change(conversation_id, State.HUMAN, [note], cancel=True, agent_name=name)


def conversation_hand_back(*, conversation_id: int, agent) -> Change | None:
    """Give a chat held by a person back to the bot; None when the bot has it already (nothing
    changes). A player message nobody answered gets the bot's answer (`change.answer`), the
    next one in any case."""
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.state == State.BOT:
            # A double click: refused, the second click told the agent who had just handed
            # it back that only its holder could.
            return None
        if conversation.state != State.HUMAN:
            raise _refusal(conversation_id) if conversation.state == State.CLOSED else NotHolder("not held")
        if not _may_act_on(conversation, agent):
            raise NotHolder("only the holder or a manager can hand it back", conversation.assignee)
        Conversation.objects.filter(pk=conversation_id, state=State.HUMAN).update(
            state=State.BOT, assignee=None, handoff_reason="", updated_at=timezone.now()
        )
        ConversationEvent.objects.create(conversation=conversation, kind=Kind.HANDED_BACK, actor=agent)
        note = _system_note(conversation, "handed_back", _("You are chatting with our assistant again."))
        # Handed back with the player's question unanswered, the chat went silent: the bot
        # answers only what comes next, and the player waited on it.
        unanswered = _unanswered_player_message(conversation_id)
    return describe(Change(conversation_id, State.BOT, [note], answer=unanswered))


def _unanswered_player_message(conversation_id: int) -> int | None:
    """The player's newest message, when neither the bot nor an agent has written since (notes
    and system lines answer nothing)."""
    said = Message.objects.filter(
        conversation_id=conversation_id,
        internal=False,
        sender__in=[Message.Sender.PLAYER, Message.Sender.BOT, Message.Sender.AGENT],
    )
    last = said.order_by("-seq").values_list("pk", "sender").first()
    return last[0] if last is not None and last[1] == Message.Sender.PLAYER else None


def conversation_transfer(*, conversation_id: int, agent, to_user_id: int) -> Change | None:
    """Hand a held chat to another staff member, who must be available and have room for it;
    None when that member holds it already (nothing changes).

    Raises NotAvailable for someone away or offline: the player would wait on nobody.
    """
    target = get_user_model().objects.filter(pk=to_user_id, is_active=True).first()
    if target is None or not is_staff_member(target):
        raise NotStaff("the target is not a staff member")
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.state == State.HUMAN and conversation.assignee_id == target.pk:
            # A double click: refused, the second click told the agent who had just transferred
            # it that only its holder could.
            return None
        if conversation.state != State.HUMAN:
            raise _refusal(conversation_id) if conversation.state == State.CLOSED else NotHolder("not held")
        if not _may_act_on(conversation, agent):
            raise NotHolder("only the holder or a manager can transfer it", conversation.assignee)
        _check_available(target)
        Conversation.objects.filter(pk=conversation_id, state=State.HUMAN).update(
            assignee=target, updated_at=timezone.now()
        )
        ConversationEvent.objects.create(
            conversation=conversation,
            kind=Kind.TRANSFERRED,
            actor=agent,
            data={"from": conversation.assignee_id, "to": target.pk, "to_name": display_name(target)},
        )
        name = display_name(target)
        note = _system_note(conversation, "transferred", _("%(name)s has joined the chat."), name=name)
    return describe(Change(conversation_id, State.HUMAN, [note], agent_name=name))


def conversation_close(*, conversation_id: int, actor) -> Change:
    """Close the chat and stop any answer; the player's next message opens a new one."""
    from analytics.hooks import on_conversation_closed

    with transaction.atomic():
        conversation = _lock(conversation_id)
        if conversation.state == State.CLOSED:
            raise ConversationClosed("the conversation is closed")
        if conversation.state == State.HUMAN and not _may_act_on(conversation, actor):
            raise NotHolder("only the holder or a manager can close it", conversation.assignee)
        now = timezone.now()
        Conversation.objects.filter(pk=conversation_id).update(
            state=State.CLOSED, closed_at=now, waiting_since=None, updated_at=now
        )
        ConversationEvent.objects.create(conversation=conversation, kind=Kind.CLOSED, actor=actor)
        closed = _("This chat has been closed. Write again any time to start a new one.")
        language = conversation_language(conversation)
        note = _system_note(conversation, "closed", closed, language=language)
        on_conversation_closed(conversation_id)
    # Described after the stop, as a takeover.
    return Change(conversation_id, State.CLOSED, [note], cancel=True, language=language)


def conversation_escalate(
    *, conversation_id: int, reason: str, actor=None, error: str = "", language: str = ""
) -> Change | None:
    """Put a chat the bot holds in the queue for a human; None when the bot no longer holds it.

    The player is told they are in the queue, or that no agent is online and they
    can leave a message. With AUTO_ASSIGN the least busy online agent takes it at once.
    `error`: what failed, for a chat queued by a failed answer (the event's data, for staff).
    `language`: the answer's that queued it, whose words the player has just read above
    (chat/streaming/jobs.py); else the chat's.
    """
    with transaction.atomic():
        now = timezone.now()
        updated = Conversation.objects.filter(pk=conversation_id, state=State.BOT).update(
            state=State.WAITING, handoff_reason=reason[:64], waiting_since=now, updated_at=now
        )
        if updated != 1:
            return None
        conversation = Conversation.objects.select_related("player").get(pk=conversation_id)
        # The player read only that the assistant is unavailable; staff read why (a quota, a
        # rate limit, a dropped connection), which says what to tell them and whom to call.
        data = {"error": error[:300]} if error else {}
        ConversationEvent.objects.create(
            conversation=conversation, kind=Kind.ESCALATED, actor=actor, reason=reason, data=data
        )
        assignee = presence.least_busy_agent() if settings.AUTO_ASSIGN else None
        notes = [] if assignee is not None else [_queued_note(conversation, language=language)]
    change = Change(conversation_id, State.WAITING, notes, cancel=True)
    if assignee is None:
        # Described by announce(), after the answer's stop, as a takeover: read here they let
        # the bot stream on to the player while staff's row and case panel were read.
        return change
    # Read before the agent's takeover commits: its watchers see the chat queued, then taken
    # (the dashboards' list only taken: staff_notify.announce).
    describe(change)
    change.then = _try_take_over(conversation_id, assignee, reason="auto_assign")
    if change.then is None:
        # The agent went away or filled up since she was picked, or a colleague was quicker:
        # the chat stays queued, and the player, told nothing, read no line at all.
        change.messages.append(_queued_note(conversation, language=language))
        describe(change)
    return change


def _queued_note(conversation: Conversation, *, language: str = "") -> Message:
    """The player is in the queue: told so, or that nobody is online to take it (leave a message).

    `language`: the notes' (empty: the chat's), as _system_note takes it."""
    if presence.any_agent_online():
        return _system_note(
            conversation,
            "waiting",
            _("You are in the queue for a support agent. We'll be with you soon."),
            language=language,
        )
    return _system_note(
        conversation,
        "no_agent",
        # Said whole: whether they may close the page, and where the reply will be (nobody
        # notifies them: it waits in this chat, which the player cookie opens again, a year).
        _(
            "No support agent is online right now. Leave your message here and you can close this page: "
            "the next agent's reply will be waiting in this chat when you open it again in this browser. "
            "We can't notify you, so please check back later."
        ),
        language=language,
    )


def conversation_player_back_to_bot(*, conversation_id: int) -> Change | None:
    """The player, waiting for a person, goes on with the bot; None when the chat is not waiting.

    With nobody online a player could only leave a message, and even a simple question
    got no answer until an agent came. Only a waiting chat goes back: once an agent has
    taken it, the agent decides (the conditional UPDATE settles a take-over at the same moment).
    """
    with transaction.atomic():
        now = timezone.now()
        updated = Conversation.objects.filter(pk=conversation_id, state=State.WAITING).update(
            state=State.BOT, handoff_reason="", waiting_since=None, updated_at=now
        )
        if updated != 1:
            return None
        conversation = Conversation.objects.select_related("player").get(pk=conversation_id)
        ConversationEvent.objects.create(conversation=conversation, kind=Kind.HANDED_BACK, reason="player")
        note = _system_note(conversation, "handed_back", _("You are chatting with our assistant again."))
    return describe(Change(conversation_id, State.BOT, [note]))


def abandoned_chats_requeue() -> list[Change]:
    """Put back in the queue the chats held by agents gone HELD_CHAT_ABANDONED_SECONDS.

    A dashboard closed for good leaves its chats held by nobody who answers, with the
    player reading "Chatting with Alice". Run by beat (chat.tasks); every sweeper may
    find the same chats, and each chat's conditional UPDATE lets exactly one requeue it.
    """
    gone = AgentProfile.objects.filter(presence.absent_for(settings.HELD_CHAT_ABANDONED_SECONDS)).values("user")
    held = Conversation.objects.filter(state=State.HUMAN, assignee__in=gone)
    changes = []
    for conversation_id, holder_id in list(held.order_by("pk").values_list("pk", "assignee")[:200]):
        change = _requeue_abandoned(conversation_id, holder_id)
        if change is not None:
            changes.append(change)
    return changes


def _requeue_abandoned(conversation_id: int, holder_id: int) -> Change | None:
    """One chat back to the queue if its holder is still gone; None when someone was quicker."""
    with transaction.atomic():
        # The holder's profile, locked: a reconnect (an UPDATE of it) waits for us, or we see it.
        holder = AgentProfile.objects.select_for_update().select_related("user").get(user_id=holder_id)
        still_gone = AgentProfile.objects.filter(presence.absent_for(settings.HELD_CHAT_ABANDONED_SECONDS))
        if not still_gone.filter(pk=holder.pk).exists():
            return None  # back in time
        now = timezone.now()
        # Only if the same agent still holds it: another sweeper, a transfer or a close came first otherwise.
        updated = Conversation.objects.filter(pk=conversation_id, state=State.HUMAN, assignee_id=holder_id).update(
            state=State.WAITING, assignee=None, handoff_reason=Reason.AGENT_LEFT, waiting_since=now, updated_at=now
        )
        if updated != 1:
            return None
        conversation = Conversation.objects.select_related("player").get(pk=conversation_id)
        ConversationEvent.objects.create(
            conversation=conversation, kind=Kind.REQUEUED, actor=holder.user, reason=Reason.AGENT_LEFT
        )
        name = display_name(holder.user)
        assignee = presence.least_busy_agent() if settings.AUTO_ASSIGN else None
        flags = {}
        if assignee is not None or presence.any_agent_online():
            text = _("%(name)s has left the chat. You are back in the queue for a support agent.")
        else:
            text = _(
                "%(name)s has left the chat. No support agent is online right now. "
                "Leave your message here and you can close this page: "
                "the next agent's reply will be waiting in this chat when you open it again in this browser. "
                "We can't notify you, so please check back later."
            )
            flags["no_agent"] = "1"  # the page then invites a message to leave, as after "no_agent"
        note = _system_note(conversation, "requeued", text, name=name, **flags)
    change = describe(Change(conversation_id, State.WAITING, [note]))
    if assignee is not None:
        change.then = _try_take_over(conversation_id, assignee, reason="auto_assign")
    return change


def _try_take_over(conversation_id: int, agent, *, reason: str) -> Change | None:
    """AUTO_ASSIGN's takeover for the agent least_busy_agent() picked, read before any lock."""
    try:
        return conversation_take_over(conversation_id=conversation_id, agent=agent, reason=reason, if_available=True)
    except HandoffError:
        return None  # someone else was quicker, or the agent filled up or went away meanwhile


def assign_waiting() -> list[Change]:
    """With AUTO_ASSIGN: give queued chats, oldest first, to online agents with room."""
    if not settings.AUTO_ASSIGN:
        return []
    changes = []
    waiting = Conversation.objects.filter(state=State.WAITING).order_by("waiting_since", "pk")
    for conversation_id in list(waiting.values_list("pk", flat=True)[:50]):
        agent = presence.least_busy_agent()
        if agent is None:
            break
        change = _try_take_over(conversation_id, agent, reason="auto_assign")
        if change is not None:
            changes.append(change)
    return changes


# --- What staff write -------------------------------------------------------------


def agent_message_send(*, conversation_id: int, agent, client_id: str, text: str) -> tuple[Message, bool]:
    """An agent's message to the player, stored once per client id; (message, created).

    Only the agent holding the chat writes to the player (not a manager: the player would read
    a second person answering in a chat Bob holds). Raises NotHolder or ConversationClosed.
    """

    def store() -> Message:
        conversation = _lock(conversation_id)
        if conversation.state == State.CLOSED:
            raise ConversationClosed("the conversation is closed")
        if conversation.state != State.HUMAN:
            raise NotHolder("take the chat over before writing to the player")
        if conversation.assignee_id != agent.pk:
            raise NotHolder("only the agent holding the chat writes to its player", conversation.assignee)
        return _written_by(agent, conversation_id, text, client_id)

    return _stored_once(conversation_id, client_id, store)


def agent_typing_check(*, conversation_id: int, agent) -> None:
    """Whether the player may be shown that `agent` is typing: only when she holds the chat.

    A manager watching it is not in it either: the player would read "Mia is typing" in a
    chat the bot or Bob is answering. Raises Conversation.DoesNotExist, ConversationClosed
    or NotHolder.
    """
    state, assignee_id = Conversation.objects.values_list("state", "assignee_id").get(pk=conversation_id)
    if state == State.CLOSED:
        raise ConversationClosed("the conversation is closed")
    if state != State.HUMAN or assignee_id != agent.pk:
        raise NotHolder("only the agent holding the chat types to its player")


def internal_note_add(*, conversation_id: int, agent, text: str, client_id: str | None = None) -> tuple[Message, bool]:
    """A note for colleagues: staff sockets only, never the player or the LLM; (note, created).

    With a client id it is stored once, as an agent's message is: the dashboard sends it
    again with the same id when its socket dropped before the ack.
    """
    if not is_staff_member(agent):
        raise NotStaff("only staff can add notes")
    return _stored_once(
        conversation_id, client_id, lambda: _written_by(agent, conversation_id, text, client_id, note=True)
    )


def _written_by(agent, conversation_id: int, text: str, client_id: str | None, *, note: bool = False) -> Message:
    """What an agent wrote: to the player, or (`note`) an internal note for colleagues."""
    meta = {"name": display_name(agent), **({"note": True} if note else {})}
    return message_append(
        conversation_id=conversation_id,
        sender=Message.Sender.AGENT,
        text=text,
        internal=note,
        client_id=client_id,
        author=agent,
        meta=meta,
    )


def _stored_once(conversation_id: int, client_id: str | None, store: Callable[[], Message]) -> tuple[Message, bool]:
    """`store()`'s new message, or the one this conversation already has under `client_id`;
    (message, created).

    A resend (the ack was lost with the socket) finds the stored row. Two sends of one client
    id at once, on two sockets or processes, are settled by the unique index on
    (conversation, client_id), as a player's are (chat/services.py): the second INSERT fails
    and its transaction rolls back, and it returns the first one's row.
    """
    if client_id:
        stored = Message.objects.filter(conversation_id=conversation_id, client_id=client_id).first()
        if stored is not None:
            return stored, False
    try:
        with transaction.atomic():
            return store(), True
    except IntegrityError:
        if not client_id:
            raise
        return Message.objects.get(conversation_id=conversation_id, client_id=client_id), False


# --- When the player asks for a person in words -------------------------------------

# "human" and "agent" are also game words (a human paladin, an agent skin, the secret
# agent quest), so a bare mention is not a request: the words must ask for a person.
# The bot's own intent classifier still hears the rest ("handoff" in agents/demo_brain.py)
# and can ask for a human through meta["escalate"] after answering.
_PERSON = r"""
    (?:(?:a|an|some|your|one\ of\ your)\s+)?
    (?:(?:real|live|actual|human)\s+)?
    (?:human(?:\s+being)?|person|agent|representative|rep|operator|staff(?:\s+member)?
      |someone|somebody|customer\s+(?:service|support)|support\s+(?:agent|staff))s?\b
"""
# After "I want / need a human": what ends a request, not a noun it describes ("a human warrior").
_REQUEST_ENDS = r"""
    (?=\s*(?:$|[.,!?;:…]|please\b|pls\b|plz\b|now\b|asap\b|to\b|who\b|that\b|instead\b|here\b
      |right\ now\b|about\b|for\b|because\b|not\b|and\b|i\b))
"""
_ASKED_IN_ENGLISH = re.compile(
    rf"""
    # talk / speak / chat to a human
    \b(?:talk|speak|chat|get\ through)\s+(?:to|with)\s+{_PERSON}
    # connect / transfer me to an agent, put me through to a person
    | \b(?:connect|transfer|put|pass|forward|escalate|send)\s+(?:me|this|this\ chat|my\ chat)\s+
        (?:through\s+|over\s+)?(?:to|with)\s+{_PERSON}
    # I want / need a real person, get me an agent, can I have a human
    | \b(?:want|need|get\ me|give\ me|(?:can|could|may)\ i\ (?:have|get)|request|ask(?:ing)?\ for)\s+
        {_PERSON}{_REQUEST_ENDS}
    # is there a human I can talk to
    | \b(?:is|are)\s+there\s+(?:a|an|any)\s+(?:real\s+|live\s+)?(?:human|person|agent|representative)s?\s+
        (?:i\s+can\s+|to\s+)(?:talk|speak|chat)
    # real person, live agent: never a race or a skin
    | \b(?:real|live|actual)\s+(?:person|people|human(?:\s+being)?s?|agents?|representatives?|operators?)\b
    # "human please", "agent pls"
    | \b(?:human|agent|representative|operator|person)s?\s*,?\s*(?:please|pls|plz)\W*$
    # the whole message: "human", "agent!", "a representative please"
    | ^\W*(?:(?:please|pls|plz)\s+)?(?:a\s+|an\s+)?(?:human|agent|representative|operator|person)s?\W*$
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Chinese asks with fixed phrases; 人工 alone is the whole message ("人工！"), not 人工智能.
_ASKED_IN_CHINESE = re.compile(
    r"转人工|人工客服|人工服务|真人客服|找客服|联系客服|找人工|要人工(?!智能)|有没有真人|^\W*人工\W*$"
)

# A team of staff named by what it does: "the refund team", "your billing department".
_STAFF_TEAM = r"""
    (?:the|your)\s+(?:refunds?|bans?|billing|payments?|appeals?|support|customer\s+service)\s+
      (?:team|department|staff|people|guys?)\b
"""
# A person named by the job they do, not as "a human": "whoever handles refunds", "the
# person in charge of bans", "your manager", "the refund team". Only after a request
# ("talk to", "put me through to", "I want"), so "the ban team said…" asks for nobody.
_STAFF_ROLE = rf"""
    (?:whoever|(?:the|a|an|some|your)\s+(?:one|person|people|guy|guys|staff|team|department)\s+(?:who|that)
      |(?:someone|somebody|anyone|anybody)\s+(?:who|that))
    \s+(?:handles?|deals?\s+with|(?:is|are|'s)\s+(?:in\s+charge|responsible)|takes?\s+care\s+of|manages?|decides?)\b
    | (?:the|a|your)\s+person\s+(?:in\s+charge|responsible)\b
    | (?:your|the|a)\s+(?:manager|supervisor|boss)s?\b
    | {_STAFF_TEAM}
"""
_ASKED_FOR_A_ROLE = re.compile(
    rf"""
    \b(?:talk|speak|chat|get\ through)\s+(?:to|with)\s+(?:{_STAFF_ROLE})
    | \b(?:connect|transfer|put|pass|forward|send)\s+(?:me|this|my\ chat)\s+(?:through\s+|over\s+)?(?:to|with)\s+
      (?:{_STAFF_ROLE})
    | \b(?:want|need|get\ me|(?:can|could|may)\ i\ (?:have|get))\s+(?:{_STAFF_ROLE})(?:{_REQUEST_ENDS}|(?=\s+of\b))
    # "can someone from the ban team look at my account?", "I need someone from your billing
    # department": one of them, asked to act. "someone from the ban team said…" asks for nobody.
    | \b(?:someone|somebody|anyone|anybody|a\ person|one\ of\ you)\s+(?:from|on|in|at)\s+(?:{_STAFF_TEAM})
      (?:\s+(?:to\s+)?(?:look|check|review|see|help|handle|contact|call|reach|email|message|get\ back|fix|sort)\b
        |{_REQUEST_ENDS})
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "who's in charge of bans? I want to talk to them": "them" is whoever the message asked
# about. Game groups have people in charge too ("who runs the guild?"): not staff.
_ASKS_WHO_IS_IN_CHARGE = re.compile(
    r"\bwho(?:'s|\s+is|\s+are|'re)?\s+(?:in\s+charge|responsible|handl\w*|deal\w*\s+with|tak\w+\s+care|manag\w*)"
    r"(?!\s+(?:of|for)?\s*(?:the\s+|my\s+|our\s+|this\s+|that\s+)?(?:guild|clan|party|raid|alliance|faction)\b)",
    re.IGNORECASE,
)
_TALK_TO_THEM = re.compile(
    r"\b(?:talk|speak|chat|get\s+through)\s+(?:to|with)\s+(?:them|him|her)\b"
    r"|\b(?:connect|transfer|put|pass|send)\s+me\s+(?:through\s+)?(?:to|with)\s+(?:them|him|her)\b",
    re.IGNORECASE,
)
# 找负责封号的人, 让你们经理来, 联系管退款的同事, 谁负责封号？我要找他. The verb comes right before
# (你们 aside): 公会负责人 is a guild's leader, and "的人物" a character, not a person.
_ASKED_FOR_A_ROLE_IN_CHINESE = re.compile(
    r"(?:找|叫|让|要|请|联系|转给|转接给?)(?:一下|下)?(?:你们的?)?"
    r"(?:(?:负责|管|处理)[\u4e00-\u9fff]{0,8}?的(?:人(?![物气偶设数口])|同事|客服|工作人员)"
    r"|负责人|主管|经理|领导|上级|老板|管理员|GM"
    # 让封号组的人看看, 找退款部门的同事: a team named by the work staff do, not a raid's 团队.
    r"|(?:封号|退款|充值|申诉|账号安全|客服|运营|技术)(?:组|部门|团队)的?(?:人(?![物气偶设数口])|同事|工作人员)?)",
    re.IGNORECASE,
)
_ASKS_WHO_IS_IN_CHARGE_IN_CHINESE = re.compile(r"谁(?:负责|管|处理)")
_TALK_TO_THEM_IN_CHINESE = re.compile(r"(?:找|跟|和|同|联系)(?:他|她|他们|她们)(?:说|谈|聊|沟通|反映)?")


# The game has people and jobs of its own: "the manager of the shop npc quest", "the boss of
# the fire dungeon", "someone to carry me through the raid", "a person in game", "找老板npc交任务".
# What follows a request's person naming the game makes it game talk, not a request for staff
# ("someone from the refund team" and "your manager about my quest reward" still ask).
_GAME_PLACE = (
    r"(?:game|town|npcs?|quests?|missions?|dungeons?|raids?|guilds?|clans?|floors?|stages?|arenas?|taverns?"
    r"|inns?|shops?|markets?|maps?|zones?|part(?:y|ies)|(?:my|our)\s+(?:team|group|squad))"
)
_NAMES_THE_GAME_AFTER = re.compile(
    rf"""\s*(?:'s\b|npcs?(?![a-z])|quests?\b|(?:接|交|领|的)?任务)
    | \s+to\s+(?:\w+\s+)?(?:play|duo|trio|carry|team\s+up|group\s+up|party|raid|farm|grind|level|trade|quest
        |pvp|duel|fight)\b
    | \s+(?:of|for|in|at|from|on|with)\s+(?:[\w-]+\s+){{0,3}}?{_GAME_PLACE}\b""",
    re.IGNORECASE | re.VERBOSE,
)
# "the quest says talk to the manager": the game's instruction, quoted.
_THE_GAME_SAYS_BEFORE = re.compile(
    r"\b(?:quests?|npcs?|missions?|objectives?)\s+(?:says?|said|tells?\s+me|told\s+me|asks?\s+me)\s+(?:to\s+)?$",
    re.IGNORECASE,
)


def _asked(pattern: re.Pattern, text: str) -> bool:
    """The pattern finds a request in the text that is not about a person of the game."""
    return any(
        not _NAMES_THE_GAME_AFTER.match(text, found.end()) and not _THE_GAME_SAYS_BEFORE.search(text[: found.start()])
        for found in pattern.finditer(text)
    )


def _asks_for_a_role(text: str) -> bool:
    """The player asks for the person who handles something, named by their job or as "them"."""
    if _asked(_ASKED_FOR_A_ROLE, text) or _asked(_ASKED_FOR_A_ROLE_IN_CHINESE, text):
        return True
    return bool(
        (_ASKS_WHO_IS_IN_CHARGE.search(text) and _TALK_TO_THEM.search(text))
        or (_ASKS_WHO_IS_IN_CHARGE_IN_CHINESE.search(text) and _TALK_TO_THEM_IN_CHINESE.search(text))
    )


_WHAT_ANSWERS = (
    r"(?:a\s+|an\s+)?(?:real\s+|live\s+|actual\s+)?"
    r"(?:bot|robot|chat\s?bot|ai|a\.i\.|machine|computer|program|human(?:\s+being)?|person)"
)
# "are you a bot?", "is this an AI", "am I talking to a real person?", "are you human or a bot?",
# "is your support a bot?"
_WHO_ANSWERS_IN_ENGLISH = re.compile(
    rf"""^\W*(?:(?:hi|hello|hey|so|wait|sorry|excuse\ me)\W+)?
    (?:(?:are|r)\s+(?:you|u)|is\s+this|am\s+i\s+(?:talking|chatting|speaking)\s+(?:to|with)
      # "is your support a bot?", "are your agents bots?"
      |is\s+(?:your|the)\s+(?:support|customer\ (?:service|support)|chat|help\ ?desk)
      |(?:are|r)\s+(?:your|the)\s+(?:support\s+)?(?:agents|staff|reps))\s+
    (?:just\s+|even\s+|really\s+|all\s+)?(?:{_WHAT_ANSWERS})s?(?:\s+or\s+(?:just\s+)?(?:{_WHAT_ANSWERS})s?)?
    (?:\s+or\s+not)?[\s?!.？！。]*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "你是机器人吗", "你是真人吗", "对面是真人还是机器人？", "你们客服是机器人吗"
_WHO_ANSWERS_IN_CHINESE = re.compile(
    r"^\W*(?:请问|那个|你好)?[，,\s]*(?:(?:你们|您们)?的?(?:客服|在线客服)|你们|你|您|对面|这边|这个|这)?"
    r"(?:都)?(?:是不是|是)(?:个|一个)?"
    r"(?:机器人|真人|真的人|人工智能|AI|ai|自动回复|人)(?:还是(?:个|一个)?(?:机器人|真人|人工智能|AI|ai|人))?"
    r"[吗嘛吧啊呀呢]*[\s?!。？！]*$"
)


# "who am I talking to?", "who is this", "你是谁", "对面是哪位"
_WHO_IS_IT = re.compile(
    r"""^\W*(?:(?:hi|hello|hey|so|sorry)\W+)?who\s+(?:am\s+i\s+(?:talking|chatting|speaking)\s+(?:to|with)|is\s+this|are\s+you)[\s?!.]*$"""
    r"|^\W*(?:请问|你好)?[，,\s]*(?:你|您|对面|这边)(?:是谁|是哪位|哪位)[呀啊呢吗]*[\s?!。？！]*$",
    re.IGNORECASE,
)


def asks_who_answers(text: str) -> bool:
    """The whole message asks whether a bot or a person is answering ("are you a bot?", "你是真人吗").

    A question, not a request: the bot says what it is (agents/pipeline/prompt.py).
    """
    text = text.strip()
    return bool(_WHO_ANSWERS_IN_ENGLISH.match(text) or _WHO_ANSWERS_IN_CHINESE.match(text) or _WHO_IS_IT.match(text))


# "客服在吗", "有人吗", "is anyone from support there?", "hello, anyone there?": the opener most
# Chinese players send before their question, asking whether anyone answers, not for a person.
_ANYONE_THERE_IN_ENGLISH = re.compile(
    r"""^\W*(?:(?:hi|hello|hey|excuse\ me|um+|so)\W+)*
    (?:(?:is|are)\s+)?(?:there\s+)?
    (?:any\s?one|any\s?body|some\s?one|some\s?body|you|support|customer\ (?:service|support))
    (?:\s+(?:from|in|at|on)\s+(?:the\s+)?(?:support|customer\ (?:service|support)|help\ ?desk)(?:\s+team)?)?
    (?:\s+(?:still\s+)?(?:there|here|around|online|available|awake))?
    [\s?!.？！。]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_ANYONE_THERE_IN_CHINESE = re.compile(
    r"^\W*(?:(?:你好|您好|哈喽|hello|hi|喂|请问)[，,\s!！]*)*(?:客服|有人|你|您|亲)?[，,\s]*"
    r"(?:在吗|在嘛|在么|在不在|在不|在线吗|有人吗|有人在吗|有没有人|有人没)[？?！!。~～\s]*$",
    re.IGNORECASE,
)


def asks_if_anyone_is_there(text: str) -> bool:
    """The whole message asks whether anyone is there ("客服在吗", "is anyone from support there?").

    An opener, not a request: the bot says it is here and asks what happened, with a person
    a tap away (agents/pipeline/prompt.py); "转人工" still hands over (`wants_human`).
    """
    text = text.strip()
    if not text or wants_human(text):
        return False
    if _ANYONE_THERE_IN_CHINESE.match(text):
        return True
    # "you there?" and "support?" ask; a bare "you" or "support" does not.
    found = _ANYONE_THERE_IN_ENGLISH.match(text)
    return bool(found) and bool(re.search(r"\b(?:there|here|around|online|available|awake)\b|\?", text, re.I))


# "客服电话是多少", "有没有客服邮箱", "what's your support phone number", "how can I contact you": how
# to reach support, which the help center answers; the player is offered a person besides. A
# phone alone is the player's device ("my phone crashes").
_HOW_TO_REACH_US = re.compile(
    r"(?:客服|人工|官方|你们)的?(?:电话|热线|邮箱|邮件|QQ|qq|微信|联系方式)|(?:电话|热线)(?:客服|号码)"
    r"|\b(?:phone|telephone)\s+(?:number|line|support)\b|\bhotline\b|\bcall\s+(?:you|support|customer\s+service)\b"
    r"|\b(?:support|customer\s+(?:service|support)|contact|your)\s+(?:e-?mail|phone|number)\b"
    r"|\b(?:how|where)\s+(?:do|can|could)\s+i\s+(?:contact|reach|call|e-?mail)\s+(?:you|your|the\s+support|support|customer)",
    re.IGNORECASE,
)


# Whose phone or e-mail the player asks for, named with it: "有没有人工客服的电话", "真人客服的联系
# 方式", "is there a phone number for human support?", "the email for a live agent", "a number I
# can call to talk to a human". The person is what the question is about, not someone asked for.
_A_PERSONS_CONTACT = re.compile(
    rf"""
    (?:人工客服|真人客服|人工|真人|客服|官方|你们)的?(?:客服)?(?:电话|热线|邮箱|邮件|QQ|微信|联系方式)(?:号码?|地址)?
    | 联系(?:人工客服|真人客服|人工|真人)的?(?:方式|电话|邮箱)
    | \b(?:(?:phone|telephone|contact)\s+(?:number|line|details|info)|number|e-?mail(?:\s+address)?|hotline)\s+
      (?:(?:i|we)\s+can\s+(?:call|ring|dial|use|write\s+to)\s+)?
      (?:for|of|to\s+(?:reach|call|contact|get(?:\s+hold\s+of)?|(?:talk|speak|chat)\s+(?:to|with)))\s+{_PERSON}
    | {_PERSON}(?:'s|\s+support)?\s+(?:(?:phone|telephone|contact)\s+)?(?:number|line|e-?mail|hotline)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)


def asks_how_to_reach_support(text: str) -> bool:
    """The player asks how to reach support (a phone number, an e-mail): a question the help
    center answers, not a request for a person, who is offered with the answer."""
    return bool(_HOW_TO_REACH_US.search(text) or _A_PERSONS_CONTACT.search(text))


def wants_human(text: str) -> bool:
    """The player asks for a person in words ("转人工", "talk to a human", "agent please", ...),
    or for the one who handles their case ("can I talk to whoever handles refunds?", "找负责封号的人",
    "can someone from the ban team look at my account?").

    Checked before the bot answers: a match sends the chat to the queue and the bot
    stays silent, so a game word mistaken for a request costs the player their answer.
    "are you a real person?" asks what answers, and gets an answer that says how to ask.
    """
    if asks_who_answers(text):
        return False
    # "有没有人工客服的电话" asks how to reach a person: the rest of it must ask for one ("转人工，
    # 客服电话是多少" does).
    text = _A_PERSONS_CONTACT.sub(" ", text).strip()
    return bool(_ASKED_IN_CHINESE.search(text) or _asked(_ASKED_IN_ENGLISH, text) or _asks_for_a_role(text))


# --- When the bot asks for a human by itself ---------------------------------------


def _dont_know(row: dict[str, Any]) -> bool:
    """An answer that found nothing to say: no knowledge retrieved, or agents/ says so."""
    meta = row["meta"] or {}
    if row["status"] != Message.Status.DONE or row["error"]:
        return False
    return bool(meta.get("dont_know")) or ("sources" in meta and not meta["sources"])


def auto_escalation_reason(*, conversation_id: int, status: str = "", error: str = "") -> str | None:
    """Why the bot should hand this chat to a human after its latest answer, or None.

    `status` and `error` are those of the answer that just finished. agents/ can
    ask for a human through meta: the answer's meta["escalate"] (a reason, or
    True), or the player message's meta["sentiment"]["escalate"].
    """
    if status == Message.Status.FAILED:
        return failure_reason(error)
    conversation = Conversation.objects.only("state", "sentiment").get(pk=conversation_id)
    if conversation.state != State.BOT:
        return None
    needed = max(settings.ESCALATE_AFTER_DONT_KNOW, 0)
    answers = Message.objects.filter(conversation_id=conversation_id, sender=Message.Sender.BOT).order_by("-seq")
    rows = list(answers.values("status", "meta", "error", "created_at")[: max(needed, 1)])
    asked = (rows[0]["meta"] or {}).get("escalate") if rows else None
    if asked:
        return asked[:64] if isinstance(asked, str) else Reason.BOT_REQUEST
    if _upset(conversation):
        return Reason.SENTIMENT
    if not needed or len(rows) < needed or not all(_dont_know(row) for row in rows):
        return None
    # Only answers since the bot last got the chat back count.
    since = (
        ConversationEvent.objects.filter(conversation_id=conversation_id, kind=Kind.HANDED_BACK)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if since is not None and rows[-1]["created_at"] <= since:
        return None
    return Reason.DONT_KNOW


def failure_reason(error: str) -> str:
    """Why a chat whose answer failed with `error` goes to the queue."""
    # Our own failures (a bug, a web process that died or was stopped mid-answer) are not the LLM's.
    ours = error.startswith(("internal error", "orphaned", "stopped"))
    return Reason.BOT_ERROR if ours else Reason.UPSTREAM_ERROR


def _sentiment_verdict(meta: dict[str, Any]) -> bool | None:
    """What agents/ decided about the player's mood (meta["sentiment"]["escalate"]), or None.

    Its verdict stands over the bare score: a player who writes "this is ridiculous" once
    scores low, and the bot soothes and helps rather than hand them over at once
    (agents/sentiment.py). Only a score with no verdict is held against the threshold.
    """
    sentiment = meta.get("sentiment")
    if isinstance(sentiment, dict) and isinstance(sentiment.get("escalate"), bool):
        return sentiment["escalate"]
    return None


def _upset(conversation: Conversation) -> bool:
    """The player's latest message is strongly negative (or agents/ says a human should step in)."""
    meta = (
        Message.objects.filter(conversation=conversation, sender=Message.Sender.PLAYER)
        .order_by("-seq")
        .values_list("meta", flat=True)
        .first()
    ) or {}
    verdict = _sentiment_verdict(meta)
    if verdict is not None:
        return verdict
    score = staff_selectors.sentiment_score(meta)
    score = conversation.sentiment if score is None else score
    return score is not None and score <= settings.ESCALATE_SENTIMENT_AT


def escalation_possible(
    status: str, error: str = "", answer_meta: dict[str, Any] | None = None, previous: dict[str, Any] | None = None
) -> bool:
    """Could auto_escalation_reason find a reason after this answer? False means: skip its queries.

    It costs 3-4 queries after every answer, and for most answers the answer job
    already knows the outcome: the answer's status, error and meta, whose
    meta["sentiment"] is the player's mood for the message it answers (the same
    dict agents/pipeline stores on that message). The checks mirror
    auto_escalation_reason's: a failed answer, agents/ asking for a human, a
    player upset enough (`_upset`'s rule), a "don't know" that may complete a
    streak (`_dont_know`). Anything unknown (no meta, no score, an error) says True.

    `previous`: the bot answer before this one (status, error, meta; {} for
    none), when the caller knows it. A "don't know" after an answer that was not
    one cannot complete a streak of ESCALATE_AFTER_DONT_KNOW > 1.
    """
    if answer_meta is None or status != Message.Status.DONE or error:
        return True
    if answer_meta.get("escalate"):
        return True
    verdict = _sentiment_verdict(answer_meta)
    if verdict:
        return True
    score = staff_selectors.sentiment_score(answer_meta)
    if score is None or (verdict is None and score <= settings.ESCALATE_SENTIMENT_AT):
        return True
    needed = settings.ESCALATE_AFTER_DONT_KNOW
    if needed <= 0 or not _dont_know({"status": status, "error": error, "meta": answer_meta}):
        return False
    if previous is not None and needed > 1 and not (previous and _dont_know(previous)):
        return False  # the streak is broken before this answer
    return True
