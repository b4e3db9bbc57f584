"""Who a player is: the signed cookie, and tokens signed by the game backend.

Token format (docs/protocol.md): base64url(json payload) + "." +
base64url(HMAC-SHA256(PLAYER_TOKEN_SECRET, payload part)), no padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

COOKIE_SALT = "csbot.player"


class InvalidToken(Exception):
    """The token is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class GamePlayer:
    pid: str
    name: str
    exp: int


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload_part: str, secret: str) -> str:
    return _b64encode(hmac.new(secret.encode(), payload_part.encode("ascii"), hashlib.sha256).digest())


def make_player_token(pid: str, *, name: str = "", ttl: int = 3600, secret: str | None = None) -> str:
    """What the game backend does to send a signed-in player to the chat."""
    payload = {"pid": str(pid), "name": name, "exp": int(time.time()) + ttl}
    part = _b64encode(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    return f"{part}.{_sign(part, secret or settings.PLAYER_TOKEN_SECRET)}"


def verify_player_token(token: str, *, now: float | None = None) -> GamePlayer:
    try:
        part, sig = token.split(".")
    except ValueError:
        raise InvalidToken("malformed token") from None
    if not hmac.compare_digest(sig, _sign(part, settings.PLAYER_TOKEN_SECRET)):
        raise InvalidToken("bad signature")
    try:
        payload = json.loads(_b64decode(part))
        pid, exp = str(payload["pid"]), int(payload["exp"])
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("malformed payload") from None
    if not pid or len(pid) > 64:
        raise InvalidToken("bad player id")
    if exp < (now if now is not None else time.time()):
        raise InvalidToken("expired token")
    return GamePlayer(pid=pid, name=str(payload.get("name") or "")[:100], exp=exp)


def player_cookie_value(player_id: int) -> str:
    return signing.dumps(player_id, salt=COOKIE_SALT, compress=False)


def player_id_from_cookie(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(signing.loads(value, salt=COOKIE_SALT, max_age=settings.PLAYER_COOKIE_MAX_AGE))
    except (signing.BadSignature, ValueError, TypeError):
        return None
