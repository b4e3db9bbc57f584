"""Only managers (and superusers) open analytics: agents get 403, anonymous visitors the login page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PAGES = [
    "/analytics/",
    "/analytics/intents/",
    "/analytics/sentiment/",
    "/analytics/agents/",
    "/analytics/gaps/",
    "/analytics/anomalies/",
    "/analytics/chats/?rating=1&rating=2",
    "/analytics/?format=csv",
    "/analytics/agents/?format=csv",
]


@pytest.mark.parametrize("url", PAGES)
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/analytics/")


@pytest.mark.parametrize("url", PAGES)
def test_an_agent_is_refused(client, alice, url):
    client.force_login(alice)
    assert client.get(url).status_code == 403


def test_an_agent_is_told_why_in_their_language_and_sent_back_to_the_dashboard(client, alice):
    client.force_login(alice)

    english = client.get("/analytics/", HTTP_ACCEPT_LANGUAGE="en")
    chinese = client.get("/analytics/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    html = english.content.decode()
    assert english.status_code == 403
    assert "Analytics is for managers" in html and "You are signed in as alice, who is not a manager." in html
    assert 'href="/staff/"' in html and "Back to the staff dashboard" in html
    assert 'class="site-header"' in html  # the site's page, not a bare "403 Forbidden"
    assert "数据分析仅供主管查看" in chinese and "返回客服工作台" in chinese


def test_a_signed_in_user_without_a_staff_role_gets_no_dashboard_link(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("pete", password="pw-pete"))
    response = client.get("/analytics/")

    assert response.status_code == 403 and 'href="/staff/"' not in response.content.decode()


@pytest.mark.parametrize("url", PAGES)
def test_a_manager_opens_every_page(client, mia, url):
    client.force_login(mia)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES[:1])
def test_a_superuser_opens_analytics_without_the_manager_role(client, root, url):
    client.force_login(root)
    assert client.get(url).status_code == 200


def test_the_login_page_lets_a_manager_in_and_back_to_analytics(client, mia):
    page = client.get("/accounts/login/?next=/analytics/")
    assert page.status_code == 200 and 'name="password"' in page.content.decode()

    response = client.post(
        "/accounts/login/?next=/analytics/", {"username": "mia", "password": "pw-mia", "next": "/analytics/"}
    )
    assert response.status_code == 302 and response["Location"] == "/analytics/"
    assert client.get("/analytics/").status_code == 200


def test_empty_pages_say_so_rather_than_show_zeros(client, mia):
    client.force_login(mia)
    html = client.get("/analytics/").content.decode()

    assert "No closed conversations in this period." in html
    assert "No handoffs in this period." in html


@pytest.mark.parametrize(
    "url, header",
    [
        ("/analytics/?format=csv", "bucket,conversations,bot_resolved"),
        ("/analytics/intents/?format=csv", "intent,label,conversations,bot_resolution_rate"),
        ("/analytics/sentiment/?format=csv", "bucket,conversations,sentiment_first_avg"),
        ("/analytics/agents/?format=csv", "agent,chats_handled,first_response_avg_s"),
        ("/analytics/gaps/?format=csv", "question,count"),
        ("/analytics/anomalies/?format=csv", "id,kind,key,state"),
    ],
)
def test_every_page_exports_its_table_as_csv(client, mia, url, header):
    client.force_login(mia)
    response = client.get(url)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="csbot-')
    assert response.content.decode("utf-8-sig").splitlines()[0].startswith(header)
