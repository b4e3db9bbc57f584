"""Chart.js configurations of each page, drawn by static/analytics/charts.js.

Only data and labels: colours and common options live in the script. Options:
stacked (bool), percent (value axis in %), counts (the value axis counts whole
things: chats, ratings, alerts; its ticks are whole numbers), y2 (title of a
right-hand axis), y2percent (its ticks in %), horizontal (bars along x), clip (the
labels are cut on their axis to this many characters and "…", whole in the tooltip), polarity (the value axis is a
sentiment score: always -1 to 1, so that a dip reads as large as it is), top (the
value axis ends there: the top of a rating's scale, 5), empty (the words shown over a
chart with nothing to plot).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext as _

from analytics.models import Alert
from analytics.selectors import DateRange, intent_label
from chat.handoff import reason_label

Metrics = dict[str, Any]


def dataset(
    label: str,
    data: list,
    *,
    kind: str | None = None,
    axis: str | None = None,
    stack: str | None = None,
    joined: bool = True,
):
    """`joined=False`: points without a line between them, for values of separate things (agents),
    where a line would read as a trend from one to the next."""
    out: dict[str, Any] = {"label": str(label), "data": data}
    if not joined:
        out["showLine"] = False
    if kind:
        out["type"] = kind
    if axis:
        out["yAxisID"] = axis
    if stack:
        out["stack"] = stack
    return out


def chart(kind: str, labels: list[str], datasets: list[dict], **options: Any) -> dict[str, Any]:
    # `empty`: what the chart says over its blank axes when the period has nothing to plot.
    options = {"empty": _("No data in this period."), **options}
    return {"type": kind, "labels": [str(label) for label in labels], "datasets": datasets, "options": options}


def pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _outcomes(rows: list[Metrics]) -> list[dict]:
    return [
        dataset(_("Resolved by the bot"), [k["bot_resolved"] for k in rows], stack="v"),
        dataset(_("Came back"), [k["returned"] for k in rows], stack="v"),
        dataset(_("Pending (24 h)"), [k["pending"] for k in rows], stack="v"),
        dataset(_("Handed off"), [k["handed_off"] for k in rows], stack="v"),
    ]


def _rates(rows: list[Metrics]) -> list[dict]:
    return [
        dataset(_("Bot resolution rate"), [pct(k["bot_resolution_rate"]) for k in rows]),
        dataset(_("Handoff rate"), [pct(k["handoff_rate"]) for k in rows]),
    ]


def overview(rng: DateRange, data: dict[str, Any]) -> dict[str, dict]:
    labels = [rng.label(b) for b, _k in data["series"]]
    points = [k for _b, k in data["series"]]
    reasons = data["reasons"]
    return {
        "volume": chart("bar", labels, _outcomes(points), stacked=True, counts=True),
        "rates": chart("line", labels, _rates(points), percent=True),
        "ttft": chart(
            "line",
            labels,
            [
                dataset(_("TTFT p50 (ms)"), [k["ttft_p50_ms"] for k in points]),
                dataset(_("TTFT p95 (ms)"), [k["ttft_p95_ms"] for k in points]),
            ],
        ),
        "reasons": chart(
            "doughnut",
            [capfirst(reason_label(key)) for key, _n in reasons],
            [dataset(_("Handoffs"), [n for _k, n in reasons])],
        ),
        "csat": chart("bar", ["1", "2", "3", "4", "5"], [dataset(_("Ratings"), data["csat_hist"])], counts=True),
    }


# The intents charts show this many, the most asked; the table lists every one (and says so).
INTENTS_CHARTED = 15


def intents(rows: list[tuple[str, Metrics]], names: dict[str, str]) -> dict[str, dict]:
    """`names`: each intent's label in the reader's language (selectors.intent_labels)."""
    top = rows[:INTENTS_CHARTED]
    labels = [intent_label(key, names) for key, _k in top]
    metrics = [k for _key, k in top]
    return {
        "volume": chart("bar", labels, _outcomes(metrics), stacked=True, horizontal=True, counts=True),
        "rates": chart("bar", labels, _rates(metrics), percent=True),
    }


def sentiment(rng: DateRange, points: list[tuple[datetime, Metrics]], servers: list[tuple[str, Metrics]]):
    share = _("Negative share (%)")
    return {
        "over_time": chart(
            "line",
            [rng.label(b) for b, _k in points],
            [
                dataset(_("First message"), [_round(k["sentiment_first_avg"], 3) for _b, k in points]),
                dataset(_("Last message"), [_round(k["sentiment_last_avg"], 3) for _b, k in points]),
                dataset(share, [pct(k["negative_share"]) for _b, k in points], kind="bar", axis="y2"),
            ],
            y2=share,
            y2percent=True,
            polarity=True,
        ),
        "per_server": chart(
            "bar",
            [key or _("Unknown") for key, _k in servers[:20]],
            [dataset(share, [pct(k["negative_share"]) for _key, k in servers[:20]])],
            percent=True,
        ),
    }


def agents(rows: list[tuple[str, Metrics]]) -> dict[str, dict]:
    labels = [name for name, _k in rows]
    first_response = _("First response (s)")
    return {
        "handled": chart(
            "bar",
            labels,
            [
                dataset(_("Chats handled"), [k["conversations"] for _n, k in rows]),
                dataset(
                    first_response,
                    [_round(k["first_response_avg_s"]) for _n, k in rows],
                    kind="line",
                    axis="y2",
                    joined=False,
                ),
            ],
            y2=first_response,
            counts=True,
        ),
        "csat": chart("bar", labels, [dataset(_("CSAT"), [_round(k["csat_avg"], 2) for _n, k in rows])], top=5),
    }


def gaps(data: dict[str, Any]) -> dict[str, dict]:
    top = data["groups"][:10]
    return {
        "per_group": chart(
            "bar",
            [g["label"] for g in top],
            [dataset(_("Questions"), [g["count"] for g in top])],
            horizontal=True,
            counts=True,
            clip=40,
        ),
        "per_day": chart(
            "bar",
            [d.isoformat() for d, _n in data["days"]],
            [dataset(_("Unanswered questions"), [n for _d, n in data["days"]])],
            counts=True,
        ),
    }


def alerts(data: dict[str, Any]) -> dict[str, dict]:
    days = data["days"]
    return {
        "per_day": chart(
            "bar",
            [d.isoformat() for d in days],
            [
                dataset(kind.label, [data["per_day"].get((d, kind.value), 0) for d in days], stack="a")
                for kind in Alert.Kind
            ],
            stacked=True,
            counts=True,
        )
    }
