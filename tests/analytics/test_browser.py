"""In headless Chromium, a manager signs in and the overview draws its charts with data.

The live server is pytest-django's (threaded WSGI, static files through the
staticfiles finders, so Chart.js comes from node_modules as in production).
The history is made by the same generator as `manage.py generate_history`.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from analytics.history import HistoryGenerator
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


@pytest.fixture
def history_and_manager(transactional_db):
    HistoryGenerator(conversations=400, days=7, seed=7).run(batch=400, log=lambda _line: None)
    mia = User.objects.create_user("mia", password="pw-mia", first_name="Mia")
    # get_or_create: an earlier transactional test may have flushed the groups the migration made.
    mia.groups.add(Group.objects.get_or_create(name="manager")[0])
    return mia


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

            page.goto(url)
            assert urlparse(page.url).path == "/accounts/login/"
            page.fill("#id_username", "mia")
            page.fill("#id_password", "pw-mia")
            page.click("main.login button[type=submit]")

            expect(page.locator('[data-testid="analytics"]')).to_be_visible()
            conversations = page.locator('[data-testid="kpi-conversations"] strong').inner_text()
            page.wait_for_function(ALL_DRAWN)
            charts = page.evaluate(CHARTS)
        finally:
            browser.close()

    assert not errors, f"JavaScript errors on the page: {errors}"
    assert int(conversations.replace(",", "")) >= 300
    assert [c["id"] for c in charts] == ["chart-volume", "chart-rates", "chart-ttft", "chart-reasons", "chart-csat"]
    for chart in charts:
        assert chart["drawn"] and chart["datasets"] > 0 and chart["values"] > 0, chart
        assert chart["width"] > 100 and chart["height"] > 100, chart
    assert any(url.endswith("/static/vendor/chart.js/dist/chart.umd.min.js") for url in requests)
    hosts = {urlparse(url).hostname for url in requests}
    assert hosts == {urlparse(live_server.url).hostname}, f"something came from elsewhere: {hosts}"
