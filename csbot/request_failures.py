"""Why an outgoing HTTP request (requests) failed, in words that are safe to log and show.

requests names the URL in a failed connection's message ("Max retries exceeded with url:
/oauth/2.0/token?client_id=…&client_secret=…"), and csbot's URLs carry secrets: ERNIE's
API key, secret key and access token in the query string, a WeCom or DingTalk robot's key
in it, a Slack webhook's in the path. So the words are urllib3's reason (host, port and
what went wrong: "Connection refused", a certificate error), never the URL.
"""

from __future__ import annotations

import requests


def request_failure(exc: requests.RequestException) -> str:
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)  # urllib3's MaxRetryError: why the connection failed
    return f"{type(exc).__name__}: {reason}" if reason is not None else type(exc).__name__
