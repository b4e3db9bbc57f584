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
