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
    in ALERT_LANGUAGE, so the chat formats only lay them out, as text (`escape`)."""
    if fmt == "json":
        return {"event": f"alert.{event}", "alert": {"title": title, **payload}}
    heading, description = escape(fmt, title), escape(fmt, payload["description"])
    if fmt == "wecom":
        # WeCom group robot, msgtype markdown: bold renders, headings too, on every client.
        return {"msgtype": "markdown", "markdown": {"content": f"**{heading}**\n{description}"}}
    if fmt == "dingtalk":
        # DingTalk custom robot: `title` is what the notification and the chat list show.
        return {"msgtype": "markdown", "markdown": {"title": heading, "text": f"### {heading}\n\n{description}"}}
    # Slack incoming webhook: mrkdwn bolds between single asterisks.
    return {"text": f"*{heading}*\n{description}"}


# An alert quotes what players wrote (a game server is whatever the player said it was) and
# hosts' names. Read as markup, `*` made them bold or italic, a backtick code, `[x](y)` a link
# (`![x](y)` an image), `<font>` a colour and `<@userid>` (WeCom) or `<!here>` (Slack) a ping,
# and a line break let `#`, `>` or `-` start a heading, a quote or a list. Neither robot has an
# escape its every client honours, so each sign it reads becomes its full-width twin, which reads
# the same and marks nothing up; only those: WeCom and DingTalk read no `_` or `~` (their
# markdown has no `_italic_` nor strike-through), and a server "s_1" sent as "s＿1" read as
# another name. Slack reads `_italic_` and `~strike~`, and its own escapes keep `&`, `<` and
# `>` as typed. Lines join: an alert is one paragraph.
_LINES = {"\r": " ", "\n": " "}
_AS_TEXT = {
    "markdown": str.maketrans({**_LINES, "*": "＊", "`": "｀", "[": "［", "]": "］", "<": "＜", ">": "＞"}),
    "slack": str.maketrans(
        {**_LINES, "*": "＊", "_": "＿", "~": "～", "`": "｀", "&": "&amp;", "<": "&lt;", ">": "&gt;"}
    ),
}


def escape(fmt: str, text: str) -> str:
    """`text` as the chat tool of `fmt` (wecom, dingtalk or slack) shows it: nothing in it is
    read as markup or a mention."""
    return text.translate(_AS_TEXT["slack" if fmt == "slack" else "markdown"])


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
