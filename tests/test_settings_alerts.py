"""ALERT_LANGUAGE and ALERT_WEBHOOK_FORMAT: the language the alert webhook's text is written in, and
the body it is posted as, for an ops team reading a chat tool. A value csbot cannot use stops it at start-up."""

from __future__ import annotations

from tests import servers


def test_alerts_are_posted_in_english_unless_told_otherwise():
    assert servers.setting_in_a_fresh_process("ALERT_LANGUAGE") == "en"


def test_an_ops_team_reading_chinese_can_have_the_alerts_in_chinese():
    assert servers.setting_in_a_fresh_process("ALERT_LANGUAGE", ALERT_LANGUAGE="zh-Hans") == "zh-hans"


def test_csbot_refuses_to_start_on_a_language_it_does_not_speak():
    assert servers.refusal_to_start(ALERT_LANGUAGE="fr") == (
        "django.core.exceptions.ImproperlyConfigured: ALERT_LANGUAGE is 'fr', a language csbot does not speak: "
        "set it to one of en, zh-hans."
    )


def test_alerts_are_posted_as_csbots_own_json_unless_told_otherwise():
    assert servers.setting_in_a_fresh_process("ALERT_WEBHOOK_FORMAT") == "json"


def test_an_ops_team_on_wecom_can_have_the_alerts_in_its_robots_body():
    assert servers.setting_in_a_fresh_process("ALERT_WEBHOOK_FORMAT", ALERT_WEBHOOK_FORMAT="WeCom") == "wecom"


def test_csbot_refuses_to_start_on_a_chat_tool_it_cannot_post_to():
    assert servers.refusal_to_start(ALERT_WEBHOOK_FORMAT="teams") == (
        "django.core.exceptions.ImproperlyConfigured: ALERT_WEBHOOK_FORMAT is 'teams', a body csbot cannot post: "
        "set it to one of json, wecom, dingtalk, slack."
    )
