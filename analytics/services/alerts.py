"""Raising and clearing alerts, and telling people about them.

An alert is raised when its signal goes off and cleared when the signal is back
to normal. Each change is told once, after the commit: a `{"type": "alert"}`
frame to the staff sockets (channel-layer group `staff.alerts`, docs/protocol.md)
and a POST to ALERT_WEBHOOK_URL when that is set, in ALERT_LANGUAGE (analytics.tasks.alert_notify).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics.models import Alert
from analytics.services.alert_formats import robot_refusal, webhook_body
from csbot.request_failures import request_failure

log = logging.getLogger(__name__)

STAFF_ALERTS_GROUP = "staff.alerts"
WEBHOOK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Signal:
    """One reading of a monitored signal. `data` holds the numbers its description quotes."""

    kind: str
    key: str
    abnormal: bool | None  # None: too few samples to tell, the alert stays as it is
    value: float
    threshold: float
    baseline: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # False: off, but on too little evidence to raise an alert; it keeps an active one.
    raises: bool = True


class WebhookError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def alert_sync(signal: Signal, *, now: datetime, inline: bool = False) -> str | None:
    """Bring the alert of this signal in line with it; returns "raised", "cleared" or None.

    The news goes out after the commit through the alert_notify task, or `inline`
    in this process when no worker may be there to run it (the worker watchdog).
    """
    if signal.abnormal is None:
        return None
    active = Alert.objects.filter(kind=signal.kind, key=signal.key, state=Alert.State.ACTIVE).first()
    if signal.abnormal:
        fields = {
            "value": signal.value,
            "threshold": signal.threshold,
            "baseline": signal.baseline,
            "data": signal.data,
            "updated_at": now,
        }
        if active is not None:
            # Still off: keep the numbers current, without telling anyone again.
            Alert.objects.filter(pk=active.pk).update(**fields)
            return None
        if not signal.raises:
            return None
        with translation.override(settings.LANGUAGE_CODE):
            description = describe(signal.kind, signal.key, signal.data)
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    kind=signal.kind, key=signal.key, description=description, raised_at=now, **fields
                )
        except IntegrityError:
            return None  # another detector raised it a moment ago
        _notify_on_commit(alert.pk, "raised", inline)
        return "raised"
    if active is None:
        return None
    cleared = Alert.objects.filter(pk=active.pk, state=Alert.State.ACTIVE).update(
        state=Alert.State.CLEARED, cleared_at=now, updated_at=now, data={**active.data, "cleared_value": signal.value}
    )
    if not cleared:
        return None  # another detector cleared it first
    _notify_on_commit(active.pk, "cleared", inline)
    return "cleared"


def _notify_on_commit(alert_id: int, event: str, inline: bool) -> None:
    if inline:
        transaction.on_commit(lambda: _deliver_quietly(alert_id, event))
        return
    from analytics.tasks import alert_notify  # tasks import this module

    transaction.on_commit(lambda: alert_notify.delay(alert_id, event))


def alert_deliver(alert_id: int, event: str) -> None:
    """Publish the alert to staff sockets, then POST it to ALERT_WEBHOOK_URL when set.

    Raises WebhookError when the POST failed; the socket frame went out regardless.
    """
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return
    try:
        alert_publish(alert, event)
    except Exception:  # a broken channel layer must not stop the webhook
        log.exception("could not publish alert %s to staff sockets", alert_id)
    if settings.ALERT_WEBHOOK_URL:
        webhook_post(alert, event, url=settings.ALERT_WEBHOOK_URL)


def _deliver_quietly(alert_id: int, event: str) -> None:
    try:
        alert_deliver(alert_id, event)
    except WebhookError as exc:
        log.warning("alert %s webhook failed: %s", alert_id, exc)


def alert_description(alert: Alert, language: str | None = None) -> str:
    """The alert's description in `language` (the active one by default), rendered from its kind and
    numbers: the stored text is in LANGUAGE_CODE only. The stored text when the numbers are incomplete."""
    with translation.override(language or translation.get_language()):
        try:
            return describe(alert.kind, alert.key, alert.data)
        except (KeyError, TypeError, ValueError):
            return alert.description


def alert_payload(alert: Alert, language: str | None = None) -> dict[str, Any]:
    """The alert as the staff socket and the webhook carry it, its description in `language`
    (LANGUAGE_CODE by default)."""
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "key": alert.key,
        "state": alert.state,
        "description": alert_description(alert, language or settings.LANGUAGE_CODE),
        "value": alert.value,
        "baseline": alert.baseline,
        "threshold": alert.threshold,
        "raised_at": alert.raised_at.isoformat(),
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
    }


def alert_frame(alert: Alert, event: str, language: str | None = None) -> str:
    """The staff socket frame of an alert (docs/protocol.md, "Staff socket"), described in `language`."""
    payload = alert_payload(alert, language)
    return json.dumps({"type": "alert", "event": event, "alert": payload}, ensure_ascii=False)


def alert_frames(alert: Alert, event: str) -> dict[str, str]:
    """The frame in every language of settings.LANGUAGES, by language code."""
    return {code: alert_frame(alert, event, code) for code, _name in settings.LANGUAGES}


def active_alert_frames(language: str | None = None) -> list[str]:
    """A `raised` frame per active alert, oldest first, described in the dashboard's `language`:
    what a staff socket that just connected missed."""
    active = Alert.objects.filter(state=Alert.State.ACTIVE).order_by("raised_at")
    return [alert_frame(a, "raised", language) for a in active]


def alert_publish(alert: Alert, event: str) -> None:
    """Send the alert frame to every staff socket; the dashboard shows or hides its banner.

    One group message carries the frame in every language (`frames`); each socket relays the one
    of its dashboard's language. `frame` (LANGUAGE_CODE) is for a socket that knows no language.
    """
    layer = get_channel_layer()
    if layer is not None:
        frames = alert_frames(alert, event)
        frame = frames.get(settings.LANGUAGE_CODE) or alert_frame(alert, event)
        async_to_sync(layer.group_send)(STAFF_ALERTS_GROUP, {"type": "relay", "frame": frame, "frames": frames})


def alert_title(alert: Alert, event: str, language: str | None = None) -> str:
    """A one-line headline of the news, in `language` (the active one by default): "Alert: Queue waiting
    time", "Cleared: Negative sentiment surge · s1". By the event, not the state: a "raised" POST retried
    after the alert cleared still announces the raise."""
    with translation.override(language or translation.get_language()):
        signal = alert.get_kind_display() + (f" · {alert.key}" if alert.key else "")
        if event == "cleared":
            return _("Cleared: %(signal)s") % {"signal": signal}
        return _("Alert: %(signal)s") % {"signal": signal}


def webhook_post(alert: Alert, event: str, *, url: str) -> None:
    """POST the alert in ALERT_WEBHOOK_FORMAT (csbot's JSON or a chat tool's robot body), titled and
    described in ALERT_LANGUAGE (the language of the team that reads it); raises WebhookError,
    permanent when a retry cannot help (4xx, or a robot refusing it for its key or keywords).

    The title is what a chat tool's card or notification shows above the text: with the
    description alone, every alert read as one long sentence with nothing to scan for."""
    language = settings.ALERT_LANGUAGE
    title = alert_title(alert, event, language)
    body = webhook_body(settings.ALERT_WEBHOOK_FORMAT, event, title, alert_payload(alert, language))
    try:
        response = requests.post(url, json=body, timeout=WEBHOOK_TIMEOUT)
    except requests.RequestException as exc:
        # Its cause would name the URL, whose key (WeCom, DingTalk, Slack) lets anyone post.
        raise WebhookError(f"webhook unreachable: {request_failure(exc)}") from None
    if response.status_code >= 400:
        raise WebhookError(f"webhook answered {response.status_code}", permanent=response.status_code < 500)
    refusal = robot_refusal(settings.ALERT_WEBHOOK_FORMAT, _json_or_none(response))
    if refusal is not None:
        why, permanent = refusal
        raise WebhookError(why, permanent=permanent)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # an empty 204, or a receiver that answers in text
        return None


# --- Plain descriptions -----------------------------------------------------------


def _pct(value: float | None) -> str:
    return _("no data") if value is None else f"{value * 100:.0f}%"


def _secs(value: float | None) -> str:
    return _("no data") if value is None else _("%(n)s s") % {"n": formats.number_format(round(value / 1000, 1), 1)}


def _mins(seconds: float | None) -> str:
    return _("no data") if seconds is None else _("%(n)s min") % {"n": formats.number_format(round(seconds / 60, 1), 1)}


def _handoff_surge(d: dict[str, Any]) -> str:
    # The usual number is a mean per window, so it is often below one: "about 0.0 is usual" says
    # nothing, so a quiet baseline is said in words. Whole sentences, for the translators.
    expected = d.get("expected") or 0.0
    values = {**d, "expected": formats.number_format(round(expected, 1), 1 if expected < 10 else 0)}
    if expected < 0.05:
        text = ngettext(
            "Handoff surge: %(count)s chat asked for a human in the last %(minutes)s minutes, where usually none does.",
            "Handoff surge: %(count)s chats asked for a human in the last %(minutes)s minutes, "
            "where usually none does.",
            d["count"],
        )
    elif expected < 1:
        text = ngettext(
            "Handoff surge: %(count)s chat asked for a human in the last %(minutes)s minutes, "
            "where usually fewer than one does.",
            "Handoff surge: %(count)s chats asked for a human in the last %(minutes)s minutes, "
            "where usually fewer than one does.",
            d["count"],
        )
    else:
        text = ngettext(
            "Handoff surge: %(count)s chat asked for a human in the last %(minutes)s minutes, "
            "where about %(expected)s usually do.",
            "Handoff surge: %(count)s chats asked for a human in the last %(minutes)s minutes, "
            "where about %(expected)s usually do.",
            d["count"],
        )
    if d.get("days"):
        # The usual of the same hour on the days before (anomalies.py), not of the whole day's: said,
        # so that a reader who knows evenings are busy knows the evening was allowed for.
        # The space is the sentence's: Chinese needs none before its brackets.
        text += ngettext(
            " (The usual is this time of day on the day before.)",
            " (The usual is this time of day on the %(days)s days before.)",
            d["days"],
        )
    return text % values


def _queue_wait(d: dict[str, Any]) -> str:
    # The baseline is how long the players a human took from the queue had waited there.
    values = {**d, "wait": _mins(d.get("oldest_s")), "baseline": _mins(d.get("baseline_s"))}
    if d.get("baseline_s") is None:
        text = ngettext(
            "Long queue: %(waiting)s player is waiting for a human and has waited %(wait)s "
            "(nobody was taken from the queue in the previous 24 hours).",
            "Long queue: %(waiting)s players are waiting for a human; the longest has waited %(wait)s "
            "(nobody was taken from the queue in the previous 24 hours).",
            d.get("waiting", 0),
        )
    else:
        text = ngettext(
            "Long queue: %(waiting)s player is waiting for a human and has waited %(wait)s "
            "(players usually wait %(baseline)s before one takes their chat).",
            "Long queue: %(waiting)s players are waiting for a human; the longest has waited %(wait)s "
            "(players usually wait %(baseline)s before one takes their chat).",
            d.get("waiting", 0),
        )
    return text % values


def _llm_errors(d: dict[str, Any]) -> str:
    # No answers in the 24 hours before (a fresh install, a quiet night): "against no data" read
    # as if the figure were missing, so the sentence says there is nothing to compare with.
    values = {**d, "rate": _pct(d.get("rate")), "baseline": _pct(d.get("baseline"))}
    if d.get("baseline") is None:
        text = _(
            "LLM errors: %(failed)s of %(answers)s bot answers failed in the last %(minutes)s minutes (%(rate)s); "
            "the bot gave no answers in the previous 24 hours to compare with."
        )
    else:
        text = _(
            "LLM errors: %(failed)s of %(answers)s bot answers failed in the last %(minutes)s minutes (%(rate)s), "
            "against %(baseline)s over the previous 24 hours."
        )
    return text % values


def _ttft_p95(d: dict[str, Any]) -> str:
    values = {**d, "p95": _secs(d.get("p95_ms")), "baseline": _secs(d.get("baseline_ms"))}
    if d.get("baseline_ms") is None:
        text = _(
            "Slow answers: the time to first token p95 is %(p95)s over the last %(minutes)s minutes "
            "(%(answers)s answers); the bot gave no answers in the previous 24 hours to compare with."
        )
    else:
        text = _(
            "Slow answers: the time to first token p95 is %(p95)s over the last %(minutes)s minutes "
            "(%(answers)s answers), against %(baseline)s over the previous 24 hours."
        )
    return text % values


def _negative_sentiment(key: str, d: dict[str, Any]) -> str:
    values = {**d, "share": _pct(d.get("share")), "baseline": _pct(d.get("baseline")), "server": key}
    usual = d.get("baseline") is not None
    if key and usual:
        text = _(
            "Unhappy players on server %(server)s: %(negative)s of %(chats)s active chats are negative "
            "in the last %(minutes)s minutes (%(share)s), against %(baseline)s usually."
        )
    elif key:
        text = _(
            "Unhappy players on server %(server)s: %(negative)s of %(chats)s active chats are negative "
            "in the last %(minutes)s minutes (%(share)s); no player wrote in the previous 24 hours to compare with."
        )
    elif usual:
        text = _(
            "Unhappy players: %(negative)s of %(chats)s active chats are negative in the last %(minutes)s minutes "
            "(%(share)s), against %(baseline)s usually."
        )
    else:
        text = _(
            "Unhappy players: %(negative)s of %(chats)s active chats are negative in the last %(minutes)s minutes "
            "(%(share)s); no player wrote in the previous 24 hours to compare with."
        )
    return text % values


def describe(kind: str, key: str, data: dict[str, Any]) -> str:
    """What a person needs to read in the banner, in the active language."""
    d = data
    if kind == Alert.Kind.LLM_ERRORS:
        return _llm_errors(d)
    if kind == Alert.Kind.TTFT_P95:
        return _ttft_p95(d)
    if kind == Alert.Kind.HANDOFF_SURGE:
        return _handoff_surge(d)
    if kind == Alert.Kind.NEGATIVE_SENTIMENT:
        return _negative_sentiment(key, d)
    if kind == Alert.Kind.QUEUE_WAIT:
        return _queue_wait(d)
    if kind == Alert.Kind.WORKER_STOPPED:
        return _(
            "No Celery worker has run a task for %(age)s (last heartbeat from %(host)s). "
            "Statistics, aggregates and alerts are not being computed."
        ) % {**d, "age": _mins(d.get("age_s"))}
    return kind
