"""CSV exports: the main table of each page, one row per bucket, key or item.

Machine-readable on purpose: English column names, ratios in 0..1, times in ms
or s as the column says, empty cells for "no data". Moments are ISO 8601 in
TIME_ZONE, to the second, as the pages show them and count their days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.utils import timezone

from analytics.selectors import DateRange, intent_label
from analytics.services.alerts import alert_description
from csbot.spreadsheet_csv import SpreadsheetWriter


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _moment(value: datetime | None) -> str | None:
    # In UTC, an alert raised at 03:30 in Shanghai read as the day before, though the file was
    # the export of that day: the pages count days in TIME_ZONE, so the file says its times there.
    return None if value is None else timezone.localtime(value).isoformat(timespec="seconds")


def response(name: str, rng: DateRange, header: list[str], rows: Iterable[Iterable[Any]]) -> HttpResponse:
    out = HttpResponse(content_type="text/csv; charset=utf-8")
    out["Content-Disposition"] = f'attachment; filename="csbot-{name}-{rng.start}-{rng.end}.csv"'
    # A byte-order mark, so that Excel opens Chinese text as UTF-8.
    out.write("\ufeff")
    writer = SpreadsheetWriter(out)  # players' questions are in some files
    writer.writerow(header)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return out


def overview(rng: DateRange, data: dict[str, Any]) -> HttpResponse:
    header = ["bucket", "conversations", "bot_resolved", "returned", "pending", "handed_off",
              "bot_resolution_rate", "handoff_rate", "csat_avg", "csat_count",
              "ttft_p50_ms", "ttft_p95_ms"]  # fmt: skip
    rows = (
        [rng.iso(b), k["conversations"], k["bot_resolved"], k["returned"], k["pending"], k["handed_off"],
         _r(k["bot_resolution_rate"], 4), _r(k["handoff_rate"], 4), _r(k["csat_avg"], 2), k["csat_count"],
         k["ttft_p50_ms"], k["ttft_p95_ms"]]
        for b, k in data["series"]
    )  # fmt: skip
    return response("overview", rng, header, rows)


def breakdown(
    name: str, rng: DateRange, rows: list[tuple[str, dict[str, Any]]], *, labels: dict[str, str] | None = None
) -> HttpResponse:
    """`labels`: the keys' names in the reader's language, a `label` column after the key (intents)."""
    named = labels is not None
    header = [name, *(["label"] if named else []), "conversations", "bot_resolution_rate", "handoff_rate",
              "turns_avg", "csat_avg", "csat_count", "negative_share", "ttft_p95_ms"]  # fmt: skip
    lines = (
        [key, *([intent_label(key, labels)] if named else []), k["conversations"], _r(k["bot_resolution_rate"], 4),
         _r(k["handoff_rate"], 4), _r(k["turns_avg"], 2), _r(k["csat_avg"], 2), k["csat_count"],
         _r(k["negative_share"], 4), k["ttft_p95_ms"]]
        for key, k in rows
    )  # fmt: skip
    return response(f"{name}s", rng, header, lines)


def sentiment(rng: DateRange, points: list) -> HttpResponse:
    header = ["bucket", "conversations", "sentiment_first_avg", "sentiment_last_avg", "negative_share",
              "improved_share", "worsened_share"]  # fmt: skip
    rows = (
        [rng.iso(b), k["conversations"], _r(k["sentiment_first_avg"], 3), _r(k["sentiment_last_avg"], 3),
         _r(k["negative_share"], 4), _r(k["improved_share"], 4), _r(k["worsened_share"], 4)]
        for b, k in points
    )  # fmt: skip
    return response("sentiment", rng, header, rows)


def agents(rng: DateRange, rows: list[tuple[str, dict[str, Any]]], untaken: dict[str, Any]) -> HttpResponse:
    """One row per agent, then the chats a human was asked for that nobody took, under an empty agent."""
    header = ["agent", "chats_handled", "first_response_avg_s", "handle_avg_s", "queue_wait_avg_s", "csat_avg",
              "csat_count"]  # fmt: skip
    everyone = [*rows, ("", untaken)] if untaken["conversations"] else rows
    lines = (
        [name, k["conversations"], _r(k["first_response_avg_s"], 1), _r(k["handle_avg_s"], 1),
         _r(k["queue_wait_avg_s"], 1), _r(k["csat_avg"], 2), k["csat_count"]]
        for name, k in everyone
    )  # fmt: skip
    return response("agents", rng, header, lines)


def gaps(rng: DateRange, data: dict[str, Any]) -> HttpResponse:
    header = ["question", "count", "language", "first_seen", "last_seen", "examples"]
    rows = (
        [g["cluster"].label, g["count"], " | ".join(g["languages"]), _moment(g["cluster"].first_seen),
         _moment(g["cluster"].last_seen), " | ".join(g["examples"])]
        for g in data["groups"]
    )  # fmt: skip
    return response("knowledge-gaps", rng, header, rows)


def alerts(rng: DateRange, data: dict[str, Any]) -> HttpResponse:
    """The description in the reader's language, as the page beside it shows it (the stored one
    is in LANGUAGE_CODE, with the numbers of the moment the alert was raised)."""
    header = ["id", "kind", "key", "state", "raised_at", "cleared_at", "value", "baseline", "threshold", "description"]
    rows = (
        [a.pk, a.kind, a.key, a.state, _moment(a.raised_at), _moment(a.cleared_at),
         a.value, a.baseline, a.threshold, alert_description(a)]
        for a in data["history"]
    )  # fmt: skip
    return response("alerts", rng, header, rows)
