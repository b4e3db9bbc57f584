"""A tiny game backend for the demo and the tests: order status, ban status, mail.

Run it with `python manage.py demo_backend --port 8765` (run.sh does) or, in
tests, `DemoBackend().start()` on a free port. Standard library only.

Endpoints (JSON):
- GET /api/orders/<order_no>?player_id=<pid>  the order, only if it is that player's (else 404)
- GET /api/players/<pid>/ban                  ban status
- GET /api/players/<pid>/mail[?item=<name>]   items sent to the in-game mail, found by either name

What a player reads comes in English and Chinese (`item` and `item_zh`, `source`, `product`,
`reason` and their `_zh`), as a game's backend has its items' names in every language it ships.

When `auth` is set, requests must carry `Authorization: <auth>` (else 401).
Two order numbers misbehave on purpose: SL0000000500 answers HTTP 500 and
SL0000000408 answers after SLOW_SECONDS (longer than the demo tools' timeout).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from agents.demo_brain import TOOL_TIMEOUT_SECONDS

# Past the demo tools' timeout, so that asking for this order takes the timeout path.
SLOW_SECONDS = TOOL_TIMEOUT_SECONDS + 2.0

PLAYERS: dict[str, dict[str, Any]] = {
    "10086": {
        "name": "Lin",
        "ban": {"banned": False},
        "orders": {
            "SL2025061201": {
                "product": "648 Star Crystals",
                "product_zh": "648 星晶",
                "amount": 648,
                "currency": "CNY",
                "status": "delivered",
                "paid_at": "2025-06-12 20:15",
                "delivered_at": "2025-06-12 20:16",
                "platform": "iOS",
            },
            "SL2025061202": {
                "product": "Monthly Card",
                "product_zh": "月卡",
                "amount": 30,
                "currency": "CNY",
                "status": "pending",
                "paid_at": "2025-06-13 09:02",
                "delivered_at": None,
                "platform": "Android",
                "note": "payment confirmed by the store; delivery is queued and usually finishes within 30 minutes",
            },
            "SL0000000500": {"product": "", "amount": 0, "currency": "CNY", "status": "delivered"},
            "SL0000000408": {"product": "", "amount": 0, "currency": "CNY", "status": "delivered"},
        },
        "mail": [
            {
                "item": "Frostfang Sword",
                "item_zh": "霜牙之剑",
                "source": "item restore (ticket 4411)",
                "source_zh": "物品恢复（工单 4411）",
                "sent_at": "2025-06-10 11:00",
                "status": "unclaimed",
                "expires_at": "2025-07-10",
            },
            {
                "item": "Comet Stag mount",
                "item_zh": "彗星角鹿坐骑",
                "source": "festival reward",
                "source_zh": "庆典奖励",
                "sent_at": "2025-06-01 00:00",
                "status": "claimed",
                "expires_at": None,
            },
        ],
    },
    "20002": {
        "name": "Kai",
        "ban": {
            "banned": True,
            "code": "B-205",
            "reason": "use of third-party automation",
            "reason_zh": "使用第三方自动化程序",
            "until": "2025-07-01",
            "appeal": "none",
        },
        "orders": {
            "SL2025070001": {
                "product": "6480 Star Crystals",
                "product_zh": "6480 星晶",
                "amount": 648,
                "currency": "CNY",
                "status": "delivered",
                "paid_at": "2025-06-20 18:00",
                "delivered_at": "2025-06-20 18:01",
                "platform": "PC",
            },
        },
        "mail": [],
    },
}


class DemoBackend:
    """The backend on a thread; `requests` lists what it was asked (path, query, headers)."""

    def __init__(self, *, auth: str = "", slow_seconds: float = SLOW_SECONDS) -> None:
        self.auth = auth
        self.slow_seconds = slow_seconds
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> DemoBackend:
        backend = self

        class Handler(_Handler):
            owner = backend

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-backend", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self, host: str, port: int) -> None:
        self.start(host, port)
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(1)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Handler(BaseHTTPRequestHandler):
    owner: DemoBackend
    server_version = "StarfallBackend/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read `requests`
        return None

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = [unquote(p) for p in parts.path.strip("/").split("/")]
        self.owner.requests.append({"path": parts.path, "query": query, "headers": dict(self.headers)})
        if self.owner.auth and self.headers.get("Authorization") != self.owner.auth:
            return self._json(401, {"error": "unauthorized"})
        match path:
            case ["api", "orders", order_no]:
                return self._order(order_no, query.get("player_id", ""))
            case ["api", "players", pid, "ban"] if pid in PLAYERS:
                return self._json(200, {"player_id": pid, **PLAYERS[pid]["ban"]})
            case ["api", "players", pid, "mail"] if pid in PLAYERS:
                item = query.get("item", "").strip().lower()
                mail = [m for m in PLAYERS[pid]["mail"] if not item or _similar(item, _names(m))]
                return self._json(200, {"player_id": pid, "item": query.get("item", ""), "mail": mail})
            case ["api", "players", _pid, _what]:
                return self._json(404, {"error": "no such player"})
        return self._json(404, {"error": "no such endpoint"})

    def _order(self, order_no: str, player_id: str) -> None:
        if order_no == "SL0000000500":
            return self._json(500, {"error": "order database unavailable"})
        if order_no == "SL0000000408":
            time.sleep(self.owner.slow_seconds)
        order = PLAYERS.get(player_id, {}).get("orders", {}).get(order_no)
        if order is None:
            # Another player's order looks exactly like one that does not exist.
            return self._json(404, {"error": "no such order for this player"})
        return self._json(200, {"order_no": order_no, "player_id": player_id, **order})

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the caller gave up (a timeout)
            pass


def _names(mail: dict[str, Any]) -> str:
    """The item's names in every language, for a search in any of them."""
    return " / ".join(mail[key] for key in ("item", "item_zh") if mail.get(key)).lower()


def _similar(wanted: str, name: str) -> bool:
    """A loose match: "sword" finds "Frostfang Sword", "霜牙" finds "霜牙之剑"."""
    return wanted in name or any(word in name for word in wanted.split() if len(word) > 2)
