"""In headless Chromium, a manager signs in and the overview draws its charts with data.

The live server is pytest-django's (threaded WSGI, static files through the
staticfiles finders, so Chart.js comes from node_modules as in production).
The history is made by the same generator as `manage.py generate_history`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from analytics.history import HistoryGenerator
from analytics.models import Alert
from tests.services import CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.django_db(transaction=True)

# Chart.js may not have run yet when the figures are already on the page: wait for it too
# (a ReferenceError would end the wait instead of repeating it).
ALL_DRAWN = """() => {
  const canvases = Array.from(document.querySelectorAll('canvas[data-chart]'));
  return typeof Chart !== "undefined" && canvases.length > 0 && canvases.every((c) => Chart.getChart(c));
}"""
CHARTS = """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map((canvas) => {
  const chart = Chart.getChart(canvas);
  const values = chart ? chart.data.datasets.flatMap((d) => d.data).filter((v) => v !== null && v !== 0) : [];
  return {id: canvas.dataset.chart, drawn: !!chart, datasets: chart ? chart.data.datasets.length : 0,
          values: values.length, width: canvas.width, height: canvas.height};
})"""


VALUE_TICKS = """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas[data-chart]')).map((canvas) => {
  const chart = Chart.getChart(canvas);
  const axis = chart.options.indexAxis === "y" ? "x" : "y";
  return [canvas.dataset.chart, chart.scales[axis] ? chart.scales[axis].ticks.map((t) => t.value) : []];
}))"""


def sign_in(page, url: str) -> None:
    """Open an analytics page as mia: the login form comes first, then the page."""
    page.goto(url)
    assert urlparse(page.url).path == "/accounts/login/"
    page.fill("#id_username", "mia")
    page.fill("#id_password", "pw-mia")
    page.click("main.login button[type=submit]")


def manager() -> User:
    mia = User.objects.create_user("mia", password="pw-mia", first_name="Mia")
    # get_or_create: an earlier transactional test may have flushed the groups the migration made.
    mia.groups.add(Group.objects.get_or_create(name="manager")[0])
    return mia


@pytest.fixture
def history_and_manager(transactional_db):
    HistoryGenerator(conversations=400, days=7, seed=7).run(batch=400, log=lambda _line: None)
    return manager()


def test_a_manager_signs_in_and_the_overview_draws_every_chart_with_data(history_and_manager, live_server):
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    today = timezone.localdate()
    url = f"{live_server.url}/analytics/?start={today - timedelta(days=7)}&end={today}"
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            page.on("request", lambda request: requests.append(request.url))
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            sign_in(page, url)

            expect(page.locator('[data-testid="analytics"]')).to_be_visible()
            conversations = page.locator('[data-testid="kpi-conversations"] strong').inner_text()
            page.wait_for_function(ALL_DRAWN)
            charts = page.evaluate(CHARTS)
            empty_notes = page.locator(".an-chart-empty").count()
        finally:
            browser.close()

    assert not errors, f"JavaScript errors on the page: {errors}"
    assert empty_notes == 0
    assert int(conversations.replace(",", "")) >= 300
    assert [c["id"] for c in charts] == ["chart-volume", "chart-rates", "chart-ttft", "chart-reasons", "chart-csat"]
    for chart in charts:
        assert chart["drawn"] and chart["datasets"] > 0 and chart["values"] > 0, chart
        assert chart["width"] > 100 and chart["height"] > 100, chart
    assert any(url.endswith("/static/vendor/chart.js/dist/chart.umd.min.js") for url in requests)
    hosts = {urlparse(url).hostname for url in requests}
    assert hosts == {urlparse(live_server.url).hostname}, f"something came from elsewhere: {hosts}"


EMPTY_NOTES = """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas[data-chart]')).map((canvas) => {
  const note = canvas.parentNode.querySelector(".an-chart-empty");
  return [canvas.dataset.chart, note ? note.innerText : null];
}))"""


def read_pages(
    live_server, paths: list[str], script: str, language: str = "en-US", width: int = 1024, phone: str = ""
) -> dict[str, Any]:
    """What `script` reads of each of these analytics pages once its charts are drawn, by path, as mia;
    with `phone`, also what that script reads of the page then narrowed to 390 px, as "phone"."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    seen: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale=language, viewport={"width": width, "height": 800})
            page.set_default_timeout(15_000)
            sign_in(page, f"{live_server.url}/analytics/{paths[0]}")
            for path in paths:
                page.goto(f"{live_server.url}/analytics/{path}")
                page.wait_for_function(ALL_DRAWN)
                seen[path] = page.evaluate(script)
                if phone:
                    # The same browser, narrowed: Chart.js draws the charts again for the width.
                    page.set_viewport_size({"width": 390, "height": 800})
                    page.wait_for_function(NARROWED)
                    seen[path] = {**seen[path], "phone": page.evaluate(phone)}
                    page.set_viewport_size({"width": width, "height": 800})
        finally:
            browser.close()
    return seen


NARROWED = """() => Array.from(document.querySelectorAll('canvas[data-chart]'))
  .every((canvas) => Chart.getChart(canvas).width <= 390)"""


def read_charts(live_server, paths: list[str], script: str, language: str = "en-US", phone: str = "") -> dict[str, Any]:
    """What `script` reads of each chart of these analytics pages, by "<path><chart id>", as mia."""
    pages = read_pages(live_server, paths, script, language, phone=phone)
    return {f"{path}{chart}": value for path, charts in pages.items() for chart, value in charts.items()}


def test_on_a_quiet_week_the_charts_count_chats_ratings_and_alerts_in_whole_numbers(transactional_db, live_server):
    # One alert and nothing else: the charts' axes read "0, 0.1, 0.2 … 1.0" alerts, chats, ratings.
    manager()
    Alert.objects.create(kind=Alert.Kind.QUEUE_WAIT, description="Long queue", value=400, threshold=300)

    ticks = read_charts(live_server, ["anomalies/", "", "intents/", "agents/", "gaps/"], VALUE_TICKS)

    counted = [
        "anomalies/chart-per-day", "chart-volume", "chart-csat", "intents/chart-volume",
        "agents/chart-handled", "gaps/chart-per-group", "gaps/chart-per-day",
    ]  # fmt: skip
    assert {name: ticks[name] for name in counted} == {name: [0, 1] for name in counted}
    assert ticks["chart-rates"][-1] == 100  # a rate still reads in %, up to 100


def test_a_chart_with_nothing_to_plot_says_so_over_its_blank_axes(transactional_db, live_server):
    manager()
    Alert.objects.create(kind=Alert.Kind.QUEUE_WAIT, description="Long queue", value=400, threshold=300)

    notes = read_charts(live_server, ["", "anomalies/", "sentiment/"], EMPTY_NOTES, language="zh-CN")

    nothing = "此期间没有数据。"
    assert notes == {
        "chart-volume": nothing, "chart-rates": nothing, "chart-ttft": nothing, "chart-reasons": nothing,
        "chart-csat": nothing, "anomalies/chart-per-day": None,  # the alert raised today
        "sentiment/chart-over-time": nothing, "sentiment/chart-per-server": nothing,
    }  # fmt: skip


VALUE_AXIS_RANGE = """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas[data-chart]')).map((c) => {
  const canvas = c;
  const scale = Chart.getChart(canvas).scales.y;
  return [canvas.dataset.chart, scale ? [scale.min, scale.max] : null];
}))"""


def test_sentiment_over_time_reads_on_its_whole_scale_so_a_small_dip_looks_small(transactional_db, live_server):
    # Averages of -0.05 to -0.2 used to fill the chart's height, from 0 down to -0.2.
    HistoryGenerator(conversations=60, days=2, seed=3).run(batch=60, log=lambda _line: None)
    manager()

    ranges = read_charts(live_server, ["sentiment/"], VALUE_AXIS_RANGE)

    assert ranges["sentiment/chart-over-time"] == [-1, 1]
    assert ranges["sentiment/chart-per-server"][0] == 0  # a share, in %, from 0


CURVES = """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas[data-chart]')).flatMap((c) => {
  const chart = Chart.getChart(c);
  return chart.data.datasets.map((d, i) => [c.dataset.chart + " " + d.label,
    chart.getDatasetMeta(i).type === "line" ? chart.getDatasetMeta(i).dataset.options.cubicInterpolationMode : null]);
}))"""


def test_sentiment_reads_against_its_neutral_zero_and_curves_never_pass_their_points(transactional_db, live_server):
    # The axis read 1.0, 0.6, 0.2, -0.2 … with no 0, and the curves swung past the hours' values.
    HistoryGenerator(conversations=60, days=2, seed=3).run(batch=60, log=lambda _line: None)
    manager()

    ticks = read_charts(live_server, ["sentiment/"], VALUE_TICKS)
    curves = read_charts(live_server, ["sentiment/", ""], CURVES)

    assert ticks["sentiment/chart-over-time"] == [-1, -0.5, 0, 0.5, 1]
    lines = {name: mode for name, mode in curves.items() if mode is not None}
    assert "sentiment/chart-over-time First message" in lines and "chart-rates Handoff rate" in lines
    assert set(lines.values()) == {"monotone"}, lines


LINE_PIECES = """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas[data-chart]')).flatMap((c) => {
  const canvas = c;
  const chart = Chart.getChart(canvas);
  return chart.data.datasets.map((d, i) => [canvas.dataset.chart + " " + d.label,
    chart.getDatasetMeta(i).type === "line" ? chart.getDatasetMeta(i).dataset.segments.length : null]);
}))"""


def test_a_rate_is_not_drawn_across_hours_without_chats(transactional_db, live_server, players):
    # Chats at 10:00, 11:00, 14:00 and 15:00: the rates and first-token lines used to run straight
    # over 12:00 and 13:00 as if those hours had been measured. They are now drawn in two pieces.
    from analytics.services.aggregation import aggregate_dirty
    from analytics.tasks import on_conversation_closed
    from tests.analytics.conftest import T0
    from tests.analytics.factories import Chat

    for hour in (0, 1, 4, 5):
        chat = Chat(players[hour % 5], T0 + timedelta(hours=hour)).player(0, "充值没到账").bot(2).close(60)
        on_conversation_closed(chat.pk)
    aggregate_dirty()
    manager()

    pieces = read_charts(live_server, ["?start=2025-03-03&end=2025-03-03"], LINE_PIECES)

    page = "?start=2025-03-03&end=2025-03-03"
    assert pieces[f"{page}chart-rates Handoff rate"] == 2
    assert pieces[f"{page}chart-ttft TTFT p50 (ms)"] == 2
    assert pieces[f"{page}chart-volume Resolved by the bot"] is None  # bars: a quiet hour is a 0


TICK_LABELS = """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas[data-chart]')).map((canvas) => {
  const chart = Chart.getChart(canvas);
  const axis = chart.options.indexAxis === "y" ? "x" : "y";
  return [canvas.dataset.chart, chart.scales[axis] ? chart.scales[axis].ticks.map((t) => t.label) : []];
}))"""
RATE_TOOLTIP = """() => Chart.getChart(document.querySelector('canvas[data-chart="chart-rates"]'))
  .options.plugins.tooltip.callbacks.label({dataset: {label: "Handoff rate"}, parsed: {x: 0, y: 38.5}})"""


@pytest.mark.parametrize("browser_language, page_language", [("de-DE", "en"), ("zh-CN", "zh-hans")])
def test_the_charts_write_thousands_as_the_pages_language_does_whatever_the_browsers(
    transactional_db, live_server, players, browser_language, page_language
):
    # A German browser wrote the English page's 12,345 chats as "12.000" on the axis.
    from analytics.models import Aggregate
    from analytics.services.aggregation import aggregate_dirty
    from analytics.tasks import on_conversation_closed
    from tests.analytics.conftest import T0
    from tests.analytics.factories import Chat

    chat = Chat(players[0], T0).player(0, "充值没到账").bot(2).close(60)
    on_conversation_closed(chat.pk)
    aggregate_dirty()
    Aggregate.objects.filter(dimension=Aggregate.Dimension.ALL).update(conversations=12345, bot_resolved=12345)
    manager()
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale=browser_language, viewport={"width": 1280, "height": 900})
            context.add_cookies([{"name": "django_language", "value": page_language, "url": live_server.url}])
            page = context.new_page()
            page.set_default_timeout(15_000)
            sign_in(page, f"{live_server.url}/analytics/?start=2025-03-03&end=2025-03-03")
            page.wait_for_function(ALL_DRAWN)
            ticks = page.evaluate(TICK_LABELS)["chart-volume"]
            tooltip = page.evaluate(RATE_TOOLTIP)
        finally:
            browser.close()

    assert ticks[-1] in {"12,000", "14,000"}, ticks
    assert tooltip == "Handoff rate: 38.5%"  # the unit its axis has


AGENT_CHARTS = """() => {
  const handled = Chart.getChart(document.querySelector('canvas[data-chart="chart-handled"]'));
  const csat = Chart.getChart(document.querySelector('canvas[data-chart="chart-csat"]'));
  const point = handled.getDatasetMeta(1).data[0].options;
  return {firstResponseJoined: handled.getDatasetMeta(1).controller.options.showLine, csatTop: csat.scales.y.max,
          pointFill: point.backgroundColor, pointRadius: point.radius};
}"""


def test_the_agents_charts_do_not_draw_a_trend_between_agents_and_rate_csat_out_of_5(
    transactional_db, live_server, players
):
    # A curve ran from one agent's first response time to the next, as if it were a trend, and
    # CSATs of 4.0 and 4.2 stood on an axis ending at 4.5.
    from analytics.services.aggregation import aggregate_dirty
    from analytics.tasks import on_conversation_closed
    from tests.analytics.conftest import T0
    from tests.analytics.factories import Chat

    for n, name in enumerate(["alice", "bob", "carol"]):
        agent = User.objects.create_user(name, first_name=name.title())
        chat = Chat(players[n], T0).player(0, "转人工").escalate(2).take_over(10, agent).agent(30 + 30 * n, agent)
        on_conversation_closed(chat.close(300, by=agent).pk)
    aggregate_dirty()
    manager()

    read = read_charts(live_server, ["agents/?start=2025-03-03&end=2025-03-03"], AGENT_CHARTS)

    read = {key.split("2025-03-03")[-1]: value for key, value in read.items()}
    assert read["firstResponseJoined"] is False
    assert read["csatTop"] == 5
    # Solid, not the pale fill of a line's area, which left the points hidden inside the bars.
    assert read["pointFill"].startswith("#") and read["pointRadius"] >= 5


QUESTION_LABELS = """() => {
  const chart = Chart.getChart(document.querySelector('canvas[data-chart="chart-per-group"]'));
  const titles = chart.data.labels.map((_label, index) => {
    chart.tooltip.setActiveElements([{datasetIndex: 0, index}], {x: 0, y: 0});
    chart.update();
    return chart.tooltip.title.join(" ");
  });
  return {ticks: chart.scales.y.ticks.map((t) => t.label), tooltips: titles};
}"""


def test_a_long_unanswered_question_is_cut_with_an_ellipsis_and_read_whole_in_its_tooltip(
    transactional_db, live_server
):
    # The chart cut its labels at 40 characters with no mark, so a cut question read as whole.
    from analytics.models import GapCluster, KnowledgeGap

    long_question = "Why did my season pass rewards disappear after the server merge last night?"
    chinese = "昨晚合服之后我的赛季通行证奖励和限定皮肤全部都不见了，邮件里也没有补发，请问什么时候能找回来？"
    for question, times in [(long_question, 3), (chinese, 2), ("How do I bind my email?", 1)]:
        cluster = GapCluster.objects.create(label=question, language="en")
        for _n in range(times):
            KnowledgeGap.objects.create(cluster=cluster, question=question)
    manager()

    read = read_charts(live_server, ["gaps/"], QUESTION_LABELS, phone=LABELS_ON_CANVAS)

    assert read["gaps/ticks"] == [
        "Why did my season pass rewards disappear…",
        chinese[:40] + "…",
        "How do I bind my email?",
    ]
    assert read["gaps/tooltips"] == [long_question, chinese, "How do I bind my email?"]

    # On a phone the label axis has half the chart: a label wider than that was cut at the
    # canvas's edge, its start gone and no mark ("sh on android 12 after update").
    phone = read["gaps/phone"]
    assert [label.endswith("…") for label, _width in phone["labels"]] == [True, True, False]
    assert phone["labels"][2][0] == "How do I bind my email?"
    for label, width in phone["labels"]:
        assert width <= phone["right"], (label, width, phone)


LABELS_ON_CANVAS = """() => {
  const scale = Chart.getChart(document.querySelector('canvas[data-chart="chart-per-group"]')).scales.y;
  const ctx = scale.ctx;
  ctx.save();
  ctx.font = Chart.helpers.toFont(scale.options.ticks.font).string;
  const labels = scale.ticks.map((t) => [t.label, ctx.measureText(t.label).width]);
  ctx.restore();
  return {right: scale.right, labels};
}"""


SHARE_AXIS = """() => ({y2: Chart.getChart(document.querySelector('canvas[data-chart="chart-over-time"]'))
  .scales.y2.ticks.map((t) => t.label)})"""


def test_the_negative_share_axis_of_sentiment_over_time_reads_in_percent(transactional_db, live_server):
    # Its title said "Negative share (%)", its ticks 0, 10, 20 beside the sentiment's -1 to 1.
    HistoryGenerator(conversations=60, days=2, seed=3).run(batch=60, log=lambda _line: None)
    manager()

    ticks = read_charts(live_server, ["sentiment/"], SHARE_AXIS)["sentiment/y2"]

    assert ticks and all(tick.endswith("%") for tick in ticks), ticks
    assert ticks[0] == "0%"


# The page's width, and each table's right edge and whether what it cannot show scrolls.
PAGE_AND_TABLES = """() => ({
  page: document.documentElement.scrollWidth,
  tables: [...document.querySelectorAll('.an-table')].map((table) => ({
    right: Math.round(table.getBoundingClientRect().right),
    rest: table.scrollWidth > table.clientWidth + 1 ? getComputedStyle(table).overflowX : "none hidden",
  })),
})"""


def test_on_a_phone_a_wide_table_scrolls_by_itself_and_the_page_keeps_to_the_screen(history_and_manager, live_server):
    """At 390 px the tables (up to 786 px wide: Intents has nine columns) widened the whole
    page: the header, the tabs, the range and the charts all slid sideways with them."""
    paths = ["", "intents/", "sentiment/", "agents/", "gaps/"]
    seen = {
        (language, path): layout
        for language in ("en-US", "zh-CN")
        for path, layout in read_pages(live_server, paths, PAGE_AND_TABLES, language, width=390).items()
    }

    for path, layout in seen.items():
        assert layout["page"] <= 390, (path, layout)
        assert layout["tables"], path
        for table in layout["tables"]:
            assert table["right"] <= 390 - 16, (path, layout)  # within the page's margin
            assert table["rest"] in ("auto", "none hidden"), (path, layout)  # a finger reaches the rest
