"""What analytics stores: facts per closed conversation, aggregates the pages read,
CSAT ratings, knowledge gaps and alerts. Every metric is defined in docs/metrics.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from chat.models import Conversation, Player


class ConversationStats(models.Model):
    """The facts of one conversation, computed when it closes (analytics.services.stats).

    Recomputing gives the same row, so a task that runs twice does no harm.
    """

    class Resolution(models.TextChoices):
        EMPTY = "empty", _("no player message")
        PENDING = "pending", _("closed by the bot, 24 h window open")
        BOT = "bot", _("resolved by the bot")
        RETURNED = "returned", _("player came back with the same intent")
        HANDED_OFF = "handed_off", _("handed off to a human")

    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, primary_key=True, related_name="stats")
    # Copied from the conversation so that resolution can find a player's next chats without a join.
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    closed_at = models.DateTimeField(db_index=True)
    duration_s = models.FloatField()
    turns = models.PositiveIntegerField(help_text=_("player messages"))
    bot_answers = models.PositiveIntegerField(default=0)
    bot_failures = models.PositiveIntegerField(default=0)
    handed_off = models.BooleanField(default=False)
    handoff_reason = models.CharField(max_length=64, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_s = models.FloatField(null=True, blank=True)
    handle_time_s = models.FloatField(null=True, blank=True)
    # Time in the queue with nobody holding it (services.stats._queue_wait); None: never queued.
    queue_wait_s = models.FloatField(null=True, blank=True)
    # Time to first token of every bot answer, in order; the aggregates bin them.
    ttft_ms_values = models.JSONField(default=list, blank=True)
    ttft_avg_ms = models.FloatField(null=True, blank=True)
    ttft_p50_ms = models.FloatField(null=True, blank=True)
    ttft_max_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    intent = models.CharField(max_length=64, blank=True, db_index=True)
    intents = models.JSONField(default=list, blank=True)
    server = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=10, blank=True)
    sentiment_first = models.FloatField(null=True, blank=True)
    sentiment_last = models.FloatField(null=True, blank=True)
    sentiment_min = models.FloatField(null=True, blank=True)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True)
    resolution = models.CharField(max_length=12, choices=Resolution.choices)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("conversation statistics")
        verbose_name_plural = _("conversation statistics")
        indexes = (
            models.Index(fields=["resolution", "closed_at"]),
            models.Index(fields=["player", "closed_at"]),
        )

    def __str__(self) -> str:
        return f"stats of {self.conversation_id}"


class Aggregate(models.Model):
    """Totals of the conversations that closed in one hour or one day, overall or per
    intent / agent / game server / handoff reason. Pages read these, never the raw chats.

    Only sums and counts are stored (averages are sum / count), so rows add up:
    a day row is the sum of its hour rows, and a page sums the rows of its range.
    """

    class Period(models.TextChoices):
        HOUR = "hour", _("hour")
        DAY = "day", _("day")

    class Dimension(models.TextChoices):
        ALL = "all", _("all")
        INTENT = "intent", _("intent")
        AGENT = "agent", _("agent")
        SERVER = "server", _("game server")
        REASON = "reason", _("handoff reason")

    period = models.CharField(max_length=4, choices=Period.choices)
    bucket = models.DateTimeField(help_text=_("start of the hour or of the local day"))
    dimension = models.CharField(max_length=8, choices=Dimension.choices)
    key = models.CharField(max_length=64, blank=True)

    conversations = models.PositiveIntegerField(default=0)
    bot_resolved = models.PositiveIntegerField(default=0)
    returned = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    handed_off = models.PositiveIntegerField(default=0)
    turns = models.PositiveIntegerField(default=0)
    duration_s = models.FloatField(default=0)
    bot_answers = models.PositiveIntegerField(default=0)
    bot_failures = models.PositiveIntegerField(default=0)
    ttft_count = models.PositiveIntegerField(default=0)
    ttft_sum_ms = models.FloatField(default=0)
    # Answers per bin of analytics.services.histogram.TTFT_EDGES_MS, {upper edge: count} (histogram.stored).
    ttft_hist = models.JSONField(default=list, blank=True)
    first_response_count = models.PositiveIntegerField(default=0)
    first_response_sum_s = models.FloatField(default=0)
    handle_count = models.PositiveIntegerField(default=0)
    handle_sum_s = models.FloatField(default=0)
    queue_wait_count = models.PositiveIntegerField(default=0)
    queue_wait_sum_s = models.FloatField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    csat_count = models.PositiveIntegerField(default=0)
    csat_sum = models.PositiveIntegerField(default=0)
    # Ratings 1..5: csat_hist[score - 1].
    csat_hist = models.JSONField(default=list, blank=True)
    sentiment_count = models.PositiveIntegerField(default=0)
    sentiment_first_sum = models.FloatField(default=0)
    sentiment_last_sum = models.FloatField(default=0)
    negative_count = models.PositiveIntegerField(default=0)
    improved_count = models.PositiveIntegerField(default=0)
    worsened_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("aggregate")
        verbose_name_plural = _("aggregates")
        constraints = (
            models.UniqueConstraint(fields=["period", "dimension", "bucket", "key"], name="aggregate_bucket_unique"),
        )

    def __str__(self) -> str:
        return f"{self.period} {self.bucket:%Y-%m-%d %H:%M} {self.dimension}={self.key}"


class DirtyHour(models.Model):
    """An hour whose aggregates must be recomputed: a stat in it was written since."""

    hour = models.DateTimeField(unique=True)
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("hour to recompute")
        verbose_name_plural = _("hours to recompute")

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00}"


class CsatRating(models.Model):
    """The player's 1-5 rating of a closed chat. Rating again replaces the first one."""

    conversation = models.OneToOneField(
        Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE, related_name="csat"
    )
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("CSAT rating")
        # Not the chart's "CSAT ratings" (a distribution, 满意度评分分布): the rows themselves.
        verbose_name_plural = pgettext_lazy("admin", "CSAT ratings")
        constraints = (
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="csat_score_1_to_5"),
        )

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.score}"


class GapCluster(models.Model):
    """Questions the knowledge base could not answer that look alike (docs/metrics.md)."""

    label = models.CharField(_("label"), max_length=500, help_text=_("the first question of the group"))
    language = models.CharField(_("language"), max_length=10, blank=True)
    terms = models.JSONField(_("terms"), default=list, help_text=_("index terms of the label"))
    question_count = models.PositiveIntegerField(_("questions"), default=0)
    first_seen = models.DateTimeField(_("first asked"), default=timezone.now)
    last_seen = models.DateTimeField(_("last asked"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("knowledge gap group")
        verbose_name_plural = _("knowledge gap groups")

    def __str__(self) -> str:
        return self.label


class KnowledgeGap(models.Model):
    """One question the knowledge base found nothing for."""

    cluster = models.ForeignKey(GapCluster, verbose_name=_("group"), on_delete=models.CASCADE, related_name="questions")
    question = models.TextField(_("question"))
    terms = models.JSONField(_("terms"), default=list)
    language = models.CharField(_("language"), max_length=10, blank=True)
    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("knowledge gap")
        verbose_name_plural = _("knowledge gaps")

    def __str__(self) -> str:
        return self.question[:80]


class Alert(models.Model):
    """An anomaly: raised when a signal goes off, cleared when it is back to normal."""

    class Kind(models.TextChoices):
        LLM_ERRORS = "llm_errors", _("LLM error rate")
        TTFT_P95 = "ttft_p95", _("Time to first token p95")
        HANDOFF_SURGE = "handoff_surge", _("Handoff surge")
        NEGATIVE_SENTIMENT = "negative_sentiment", _("Negative sentiment surge")
        QUEUE_WAIT = "queue_wait", _("Queue waiting time")
        WORKER_STOPPED = "worker_stopped", _("Celery worker stopped")

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        CLEARED = "cleared", _("cleared")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    # What the signal is about within its kind: a game server, or "" for everything.
    key = models.CharField(_("scope"), max_length=64, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.ACTIVE)
    # Written in LANGUAGE_CODE; pages, dashboards and the webhook render it again from kind, key and
    # data in their reader's language (services.alerts.alert_description), this text only as a fallback.
    description = models.TextField(_("description"))
    value = models.FloatField(_("value"))
    baseline = models.FloatField(_("baseline"), null=True, blank=True)
    threshold = models.FloatField(_("threshold"))
    data = models.JSONField(_("data"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ("-raised_at", "-pk")
        constraints = (
            # At most one open alert per signal: two detectors racing cannot raise it twice.
            models.UniqueConstraint(
                fields=["kind", "key"], condition=models.Q(state="active"), name="alert_one_active_per_signal"
            ),
        )

    def __str__(self) -> str:
        return f"{self.kind}:{self.key} {self.state}"


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker ran the heartbeat task."""

    hostname = models.CharField(max_length=200, unique=True)
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("Celery worker heartbeat")
        verbose_name_plural = _("Celery worker heartbeats")

    def __str__(self) -> str:
        return f"{self.hostname} {self.beat_at:%H:%M:%S}"
