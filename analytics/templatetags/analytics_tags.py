"""Formatting for the analytics pages: empty metrics show as a dash, not 0."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics.services.alerts import alert_description
from chat.admin_words import language_words
from chat.handoff import reason_label

register = template.Library()
DASH = "–"


def _fmt(value: float, digits: int) -> str:
    # number_format truncates extra digits; round first so that 66.67 shows as 66.7.
    return formats.number_format(round(value, digits), digits, force_grouping=True)


@register.simple_tag(takes_context=True)
def before(context: template.Context, shown: str) -> str:
    """A key figure of the as many days before the range, under this range's: "Previous 7 days: 52.1%".
    A manager asks how the bot does this week against last; the page answered for one week only."""
    days = context["range"].days
    text = ngettext("Previous %(days)s day: %(value)s", "Previous %(days)s days: %(value)s", days)
    return format_html('<small class="an-before">{}</small>', text % {"days": days, "value": shown})


@register.filter
def pct(value: float | None, digits: int = 1) -> str:
    """A ratio in 0..1 as a percentage."""
    if value is None:
        return DASH
    return f"{_fmt(value * 100, digits)}%"


@register.filter
def bot_rate(metrics: dict) -> str:
    """A table row's bot resolution rate; for a row whose chats all closed within the last 24 h,
    that it is not known yet. A dash there read as "no data" beside the row's chats and handoffs."""
    if metrics["bot_resolution_rate"] is None and metrics["unsettled"]:
        return format_html(
            '<span class="muted" title="{}">{}</span>', _("Known 24 h after a chat closes"), _("Not known yet")
        )
    return pct(metrics["bot_resolution_rate"])


@register.filter
def ms(value: float | None) -> str:
    if value is None:
        return DASH
    if value >= 1000:
        return _("%(n)s s") % {"n": _fmt(value / 1000, 2)}
    return _("%(n)s ms") % {"n": _fmt(value, 0)}


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as "45 s", "3 min 20 s" or "2 h 05 min"."""
    if seconds is None:
        return DASH
    seconds = round(seconds)
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}


@register.filter
def num(value: float | None, digits: int = 0) -> str:
    return DASH if value is None else _fmt(value, digits)


@register.filter
def alert_text(alert) -> str:
    """The alert's description in the reader's language (stored text if the data is incomplete)."""
    return alert_description(alert)


@register.filter
def ago(moment: datetime) -> str:
    """How long ago, for a worker's last beat: "3 minutes ago", "just now" under a minute, where
    timesince said "0 minutes ago" of a worker that beat a second before."""
    if timezone.now() - moment < timedelta(minutes=1):
        return _("just now")
    return _("%(ago)s ago") % {"ago": timesince(moment)}


@register.filter
def other_than(examples: list[str], label: str) -> list[str]:
    """A gap group's phrasings beside its label: the column of similar questions repeated the
    question in the first column, and for a group of one phrasing said nothing else."""
    return [q for q in examples if q != label]


@register.filter
def reason(code: str) -> str:
    """A handoff reason as staff read it (chat/handoff.py), as a label: "The player asked for a person".
    The dashboard's lowercase words read mid-sentence there; here each starts a table row or a legend."""
    return capfirst(reason_label(code))


@register.filter
def language_name(code: str) -> str:
    """A language code ("zh-hans") as its name in the reader's language ("Simplified Chinese", "简体中文");
    a code Django does not know as it is, none as a dash."""
    return language_words(code) or DASH


@register.filter
def language_names(codes: list[str]) -> str:
    """A gap group's languages, most asked first: "Simplified Chinese / English"."""
    return " / ".join(language_name(code) for code in codes) or DASH
