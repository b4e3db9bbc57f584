"""The analytics pages. Thin: parse the date range, call a selector, then export
CSV (analytics/exports.py) or render with charts (analytics/charts.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from analytics import charts, exports, selectors
from analytics.access import manager_required
from analytics.selectors import DateRange, Dim
from analytics.services import anomalies


def _page(request: HttpRequest, page: str, rng: DateRange, **context: Any) -> HttpResponse:
    today = timezone.localdate()
    presets = [
        (_("Today"), DateRange(today, today)),
        (_("7 days"), DateRange(today - timedelta(days=6), today)),
        (_("30 days"), DateRange(today - timedelta(days=29), today)),
        (_("90 days"), DateRange(today - timedelta(days=89), today)),
    ]
    common = {
        "page": page,
        "range": rng,
        "presets": presets,
        "max_days": selectors.MAX_DAYS,
        "as_of": selectors.figures_as_of(),
        # Named in full: "CST" is China's and America's both, and managers may sit elsewhere.
        "time_zone": timezone.get_current_timezone_name(),
        "refresh_seconds": round(settings.ANALYTICS_REFRESH_SECONDS),
    }
    return render(request, f"analytics/{page}.html", {**common, **context})


def _csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


@require_GET
@manager_required
def overview(request: HttpRequest) -> HttpResponse:
    rng = DateRange.parse(request.GET)
    data = selectors.overview(rng)
    if _csv(request):
        return exports.overview(rng, data)
    before = selectors.before(rng)
    return _page(
        request,
        "overview",
        rng,
        kpis=data["kpis"],
        previous=before["range"],
        before=before["kpis"],
        points=[(rng.label(b), k) for b, k in data["series"] if k["conversations"]],
        reasons=selectors.reasons_against(data["reasons"], before["reasons"]),
        charts=charts.overview(rng, data),
    )


@require_GET
@manager_required
def intents(request: HttpRequest) -> HttpResponse:
    rng = DateRange.parse(request.GET)
    rows = selectors.breakdown(rng, Dim.INTENT)
    labels = selectors.intent_labels()
    if _csv(request):
        return exports.breakdown("intent", rng, rows, labels=labels)
    total = sum(k["conversations"] for _key, k in rows)
    # Why handoffs are up: the intent whose handoff rate rose against the days before.
    previous = rng.previous()
    before = dict(selectors.breakdown(previous, Dim.INTENT))
    shares = [
        (
            key,
            selectors.intent_label(key, labels),
            {**k, "handoff_rate_before": before[key]["handoff_rate"] if key in before else None},
            k["conversations"] / total if total else None,
        )
        for key, k in rows
    ]
    return _page(
        request,
        "intents",
        rng,
        previous=previous,
        rows=shares,
        charts=charts.intents(rows, labels),
        charted=charts.INTENTS_CHARTED if len(rows) > charts.INTENTS_CHARTED else None,
    )


@require_GET
@manager_required
def sentiment(request: HttpRequest) -> HttpResponse:
    rng = DateRange.parse(request.GET)
    points = selectors.sentiment_series(rng)
    if _csv(request):
        return exports.sentiment(rng, points)
    servers = selectors.breakdown(rng, Dim.SERVER)
    return _page(request, "sentiment", rng, servers=servers, charts=charts.sentiment(rng, points, servers))


@require_GET
@manager_required
def agents(request: HttpRequest) -> HttpResponse:
    rng = DateRange.parse(request.GET)
    rows, untaken = selectors.agents(rng)
    if _csv(request):
        return exports.agents(rng, rows, untaken)
    return _page(request, "agents", rng, rows=rows, untaken=untaken, charts=charts.agents(rows))


@require_GET
@manager_required
def gaps(request: HttpRequest) -> HttpResponse:
    rng = DateRange.parse(request.GET)
    data = selectors.knowledge_gaps(rng)
    if _csv(request):
        return exports.gaps(rng, data)
    return _page(request, "gaps", rng, groups=data["groups"], total=data["total"], charts=charts.gaps(data))


@require_GET
@manager_required
def chats(request: HttpRequest) -> HttpResponse:
    """The chats behind a figure (a knowledge gap's group, an intent, a handoff reason, the low
    ratings): a manager who read that 29 players asked about a crash had no way to their chats."""
    rng = DateRange.parse(request.GET)
    drill = selectors.Drill.parse(request.GET)
    data = selectors.chats_behind(rng, drill)
    intent = selectors.intent_label(drill.intent, selectors.intent_labels()) if drill.intent is not None else None
    low, high = (drill.ratings[0], drill.ratings[-1]) if drill.ratings else (0, 0)
    # "1–2" for the low ratings the overview links to; any other choice as listed.
    contiguous = high - low + 1 == len(drill.ratings)
    ratings = f"{low}–{high}" if contiguous and low != high else ", ".join(map(str, drill.ratings))
    return _page(
        request,
        "chats",
        rng,
        drill=drill,
        drill_params=drill.params(),
        drill_query=drill.query(),
        intent=intent,
        agent=selectors.agent_named(drill.agent) if drill.agent is not None else None,
        ratings=ratings,
        shown=selectors.CHATS_SHOWN,
        **data,
    )


@require_GET
@manager_required
def anomalies_page(request: HttpRequest) -> HttpResponse:
    # Checked here too: with every worker stopped, nothing else would notice.
    anomalies.worker_check()
    rng = DateRange.parse(request.GET)
    data = selectors.alerts(rng)
    if _csv(request):
        return exports.alerts(rng, data)
    return _page(
        request,
        "anomalies",
        rng,
        active=data["active"],
        history=data["history"],
        heartbeats=anomalies.heartbeats(),
        # On the embedded default no worker ever reports, and "No worker has reported yet." read as a fault.
        eager=settings.CELERY_TASK_ALWAYS_EAGER,
        charts=charts.alerts(data),
    )
