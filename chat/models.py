"""Players, conversations and their messages."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Player(models.Model):
    """Someone who chats with support: an anonymous visitor or a verified game player."""

    # An anonymous player is shown as this and the start of their public id (`label`).
    VISITOR_PREFIX = "visitor-"

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    # Set only from a token the game backend signed; tools trust nothing else.
    game_player_id = models.CharField(_("game player id"), max_length=64, unique=True, null=True, blank=True)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    class Meta:
        verbose_name = _("player")
        verbose_name_plural = _("players")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.display_name:
            return self.display_name
        if self.game_player_id:
            return f"#{self.game_player_id}"
        return f"{self.VISITOR_PREFIX}{str(self.public_id)[:8]}"


class Conversation(models.Model):
    class State(models.TextChoices):
        BOT = "bot", _("with the bot")
        WAITING = "waiting", _("waiting for a human")
        HUMAN = "human", _("with a human")
        CLOSED = "closed", _("closed")

    OPEN_STATES = (State.BOT, State.WAITING, State.HUMAN)

    player = models.ForeignKey(Player, verbose_name=_("player"), on_delete=models.CASCADE, related_name="conversations")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.BOT, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    # The seq of the newest message; messages take last_seq + 1 under a row lock.
    last_seq = models.PositiveIntegerField(_("last sequence number"), default=0)
    language = models.CharField(_("language"), max_length=10, blank=True)
    # What the bot understood so far (filled by agents/).
    intent = models.CharField(_("intent"), max_length=64, blank=True)
    facts = models.JSONField(_("facts"), default=dict, blank=True)
    sentiment = models.FloatField(_("sentiment"), null=True, blank=True)
    handoff_reason = models.CharField(_("handoff reason"), max_length=64, blank=True)
    # When the chat joined the queue for a human (state waiting); None otherwise.
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # The seq of the bot answer streaming now, taken with its question's seqs or, for one started
    # apart from its question (a hand-back's, or one a question waited for), by
    # services.answer_start_apart. While it streams, a question stored on any process starts no
    # answer of its own: the claim's job answers the newest question when it ends, and releases
    # it then (services.bot_message_finish). An answer no longer streaming (failed by the sweep:
    # its process died) claims nothing.
    answer_claim = models.BigIntegerField(_("answer claim"), null=True, blank=True, editable=False)
    # The seq of the player's newest message, set by the UPDATE that takes its seq. The answer's end
    # reads it under the row lock to know whether a question waited for it: a line for staff stored
    # meanwhile (a note, the queue's line) also takes a seq, and counted as one.
    last_question_seq = models.PositiveIntegerField(_("last question's sequence number"), default=0, editable=False)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [models.Index(fields=["player", "state"])]
        permissions = [("export_conversation", _("Can export a conversation"))]

    def __str__(self) -> str:
        return f"#{self.pk} {self.player} ({self.get_state_display()})"

    @property
    def group_name(self) -> str:
        """Every participant's socket subscribes to this channel-layer group."""
        return f"conv.{self.pk}"


class Message(models.Model):
    class Sender(models.TextChoices):
        PLAYER = "player", _("player")
        BOT = "bot", _("bot")
        AGENT = "agent", _("agent")
        SYSTEM = "system", _("system")

    class Status(models.TextChoices):
        STREAMING = "streaming", _("streaming")
        DONE = "done", _("done")
        INTERRUPTED = "interrupted", _("interrupted")
        FAILED = "failed", _("failed")

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField(_("sequence number"))
    # Chosen by the client so that a resend is stored once.
    client_id = models.CharField(_("client id"), max_length=64, null=True, blank=True)
    sender = models.CharField(_("sender"), max_length=10, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, blank=True, on_delete=models.SET_NULL
    )
    text = models.TextField(_("text"), blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DONE)
    # Internal messages (staff notes, rejected input) are never shown to players.
    internal = models.BooleanField(_("internal"), default=False)
    error = models.CharField(_("error"), max_length=300, blank=True)
    # The message this bot answer replies to.
    reply_to = models.ForeignKey(
        "self", verbose_name=_("reply to"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ttft_ms = models.PositiveIntegerField(
        _("time to first token (ms)"), null=True, blank=True, help_text=_("time to first token")
    )
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    # Why the bot answered as it did: sources, provider, step timings.
    meta = models.JSONField(_("meta"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="message_client_id_unique",
            ),
        ]
        indexes = [
            # The answers still streaming, for the sweep for orphans (chat/streaming/lifecycle.py):
            # a handful of rows at any time, so the query every few seconds never reads the table.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="streaming"),
                name="message_streaming_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}:{self.seq} {self.get_sender_display()}"


class ConversationEvent(models.Model):
    """The audit trail of a conversation: who changed what, and when.

    Analytics reads handoffs, first responses and closes from here.
    """

    class Kind(models.TextChoices):
        ESCALATED = "escalated", _("escalated to a human")
        TAKEN_OVER = "taken_over", _("taken over")
        HANDED_BACK = "handed_back", _("handed back to the bot")
        TRANSFERRED = "transferred", _("transferred")
        CLOSED = "closed", _("closed")
        REOPENED = "reopened", _("reopened")
        # The holder left (reason agent_left): the chat is back in the queue, held by nobody.
        REQUEUED = "requeued", _("back in the queue")

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # escalation reason (player_request, dont_know, sentiment, upstream_error, ...), transfer target, ...
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        # Staff read it above each event of a chat in the admin: in their words, not the code.
        return f"{self.conversation_id} {self.get_kind_display()}"


class AgentProfile(models.Model):
    """A staff member's presence and capacity for chats (chat/presence.py)."""

    class Status(models.TextChoices):
        ONLINE = "online", _("online")
        AWAY = "away", _("away")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="agent_profile"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ONLINE)
    max_chats = models.PositiveSmallIntegerField(_("max chats"), default=5, help_text=_("chats held at once"))
    # Open staff sockets, on every process; with last_seen it says whether the agent is there.
    sockets = models.PositiveIntegerField(_("open sockets"), default=0)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.status})"


class Runner(models.Model):
    """A web process's heartbeat: when it was last heard from (chat/streaming/heartbeat.py).

    `name` is what the process writes into its answers' `meta["runner"]` (csbot/runner.py),
    so another process can tell an answer whose process died from one that is streaming.
    """

    name = models.CharField(max_length=300, primary_key=True)
    # The database's clock, not the process's: heartbeats from different hosts compare.
    beat_at = models.DateTimeField()

    class Meta:
        verbose_name = _("web process")
        verbose_name_plural = _("web processes")

    def __str__(self) -> str:
        return self.name


class SignInAttempt(models.Model):
    """A staff sign-in tried with this username from this address, not yet known to have
    succeeded (chat/sign_in_throttle.py): a row is written before the password is checked
    and deleted when it turns out right, so the rows in the window are the failures."""

    username = models.CharField(max_length=150)
    # The client's address as the web process sees it (REMOTE_ADDR; behind a proxy, daphne's
    # --proxy-headers makes it the browser's); empty when it has none (a Unix socket).
    address = models.CharField(max_length=64, blank=True, default="")
    at = models.DateTimeField(db_index=True)  # the window's sweep, every username's

    class Meta:
        indexes = [models.Index(fields=["username", "address", "at"]), models.Index(fields=["address", "at"])]
        verbose_name = _("sign-in attempt")
        verbose_name_plural = _("sign-in attempts")


class PlayerTokenUse(models.Model):
    """A game token that has signed a player in (chat/token_uses.py): kept until it expires,
    so that the same link opened again elsewhere is refused."""

    signature = models.CharField(max_length=64, primary_key=True)
    used_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("used sign-in link")
        verbose_name_plural = _("used sign-in links")
