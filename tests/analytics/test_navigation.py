"""Where a manager reading the analytics goes next: the pages were a dead end, with no way
to the dashboard, the admin or out, short of typing an address."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/analytics/", "/analytics/intents/", "/analytics/sentiment/", "/analytics/agents/", "/analytics/gaps/"]


def header_links(html: str) -> dict[str, str]:
    header = html.split('<header class="site-header">', 1)[1].split("</header>", 1)[0]
    return {text.strip(): href for href, text in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>([^<]+)</a>', header)}


@pytest.mark.parametrize("path", PAGES)
def test_every_analytics_page_leads_back_to_the_dashboard_and_the_admin_and_signs_out(client, mia, path):
    client.force_login(mia)
    html = client.get(path).content.decode()

    assert header_links(html) == {"Support dashboard": "/staff/", "Admin": "/admin/"}
    header = html.split("</header>", 1)[0]
    assert re.search(r'<form [^>]*method="post" action="/accounts/logout/"', header)
    assert ">Sign out</button>" in header


def test_in_chinese_the_way_back_reads_as_the_dashboard_does(client, mia):
    client.force_login(mia)
    html = client.get("/analytics/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert header_links(html) == {"客服工作台": "/staff/", "管理后台": "/admin/"}
    assert ">退出登录</button>" in html.split("</header>", 1)[0]
