"""The body an alert webhook POST carries, shaped for the chat tool that receives it
(ALERT_WEBHOOK_FORMAT).

Ops teams point ALERT_WEBHOOK_URL at a group robot of their chat tool, and each tool
accepts only its own body: csbot's JSON reached a WeCom or DingTalk robot as an
error and a Slack incoming webhook as nothing. `json` keeps csbot's own body for
receivers written against it.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("json", "wecom", "dingtalk", "slack")


def webhook_body(fmt: str, event: str, title: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The body of one alert's POST in `fmt`; `title` and `payload["description"]` are already
    in ALERT_LANGUAGE, so the chat formats only lay them out."""
    description = payload["description"]
    if fmt == "wecom":
        # WeCom group robot, msgtype markdown: bold renders, headings too, on every client.
        return {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{description}"}}
    if fmt == "dingtalk":
        # DingTalk custom robot: `title` is what the notification and the chat list show.
        return {"msgtype": "markdown", "markdown": {"title": title, "text": f"### {title}\n\n{description}"}}
    if fmt == "slack":
        # Slack incoming webhook: mrkdwn bolds between single asterisks.
        return {"text": f"*{title}*\n{description}"}
    return {"event": f"alert.{event}", "alert": {"title": title, **payload}}


# Their "too many messages" codes: a later retry gets through (WeCom 45009, DingTalk 130101).
_RATE_LIMITED = {"wecom": {45009}, "dingtalk": {130101}}


def robot_refusal(fmt: str, reply_json: Any) -> tuple[str, bool] | None:
    """(why, permanent) when a WeCom or DingTalk robot refused the POST, else None.

    Both answer HTTP 200 to a POST they refuse (a wrong key, a missing keyword, too many
    messages), with a non-zero `errcode` in the reply: read as the status alone, a refused
    alert was logged as delivered and never retried."""
    if fmt not in _RATE_LIMITED or not isinstance(reply_json, dict):
        return None
    code = reply_json.get("errcode", 0)
    if code in (0, None):
        return None
    why = f"webhook refused it: errcode {code} {reply_json.get('errmsg', '')}".rstrip()
    return why, code not in _RATE_LIMITED[fmt]
