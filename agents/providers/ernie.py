"""ERNIE Bot v1 ("wenxinworkshop", access-token auth), streamed over SSE.

The wire format is in docs/ernie-protocol.md (shared docs). Points that shape
this module:
- Errors come back with HTTP 200 as a JSON object, either as the whole body
  (Content-Type application/json) or as a bare line inside the SSE stream.
- The access token lives 30 days; 110/111 mean "get a new one", which we do
  once per request, here, so the retry helper never sees them.
- `messages` must be odd and alternate user/assistant; see build_ernie_messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from django.conf import settings

from .base import (
    ChatMessage,
    ChatRequest,
    Delta,
    Finish,
    FunctionCall,
    Provider,
    ProviderError,
    SafetyBlocked,
    StreamItem,
    ToolRound,
)
from .http import client_timeout, drain, get_session, network_error, retry_after
from .reads import items_of_read
from .sse import SSEError, SSEParser

logger = logging.getLogger(__name__)

# ERNIE 3.5/4.0 reject requests whose system + message contents exceed this.
ERNIE_MAX_CHARS = 20_000
# Never let a long system prompt squeeze the player's question out entirely.
MIN_QUESTION_CHARS = 2_000

# The SDK's retry set (Python HEAD and Go). 15 is "app does not exist", which
# sounds permanent, but both SDKs retry it; at worst it costs a few quick retries.
RETRYABLE_CODES = frozenset({2, 15, 18, 336100, 336501, 336502})
# Quotas that refresh by themselves, within 0-60 s (Baidu): the cluster's (4) and the app's
# QPS (18), RPM (336501) and TPM (336502) limits. Not the daily (17) or total (19) quota.
RATE_LIMIT_CODES = frozenset({4, 18, 336501, 336502})
# Endpoints that reject `functions` (ERNIE Speed, Lite, Tiny, Character: the SDK's key sets).
NO_FUNCTIONS_MODELS = ("ernie_speed", "ernie-speed", "eb-instant", "ernie-lite", "ernie-tiny", "ernie-char")
TOKEN_REJECTED_CODES = frozenset({110, 111})


def build_ernie_messages(messages: Sequence[ChatMessage], max_chars: int) -> list[dict[str, str]]:
    """Map our history onto ERNIE's rules: user first and last, alternating, odd count.

    Consecutive turns of one role are merged, a leading or trailing assistant
    turn is dropped, and blank turns vanish. If the contents exceed `max_chars`,
    the oldest user/assistant pairs go first, which keeps the count odd. A lone
    question longer than `max_chars` is cut. No user turn at all gives [].
    """
    turns: list[dict[str, str]] = []
    for message in messages:
        if not message.content.strip():
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    if turns and turns[0]["role"] == "assistant":
        del turns[0]
    if turns and turns[-1]["role"] == "assistant":
        del turns[-1]

    total = sum(len(turn["content"]) for turn in turns)
    while len(turns) > 1 and total > max_chars:
        total -= len(turns[0]["content"]) + len(turns[1]["content"])
        del turns[:2]
    if turns and total > max_chars:
        turns[0]["content"] = turns[0]["content"][: max(max_chars, 1)]
    return turns


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # time.monotonic()

    def usable(self, rejected: str | None) -> bool:
        return self.value != rejected and time.monotonic() < self.refresh_at


class _TokenRejected(Exception):
    """110/111 before any text: fetch a new token and send the request again."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class ErnieProvider(Provider):
    name = "ernie"

    def __init__(self) -> None:
        # Tokens are plain strings, valid on any loop; locks belong to one loop.
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._locks: dict[tuple[asyncio.AbstractEventLoop, str, str], asyncio.Lock] = {}

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        api_key, secret_key = _credentials()
        body = _request_body(request)
        url = f"{_base_url()}/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{settings.ERNIE_MODEL}"
        rejected: str | None = None
        for _ in range(2):
            token = await self._access_token(api_key, secret_key, rejected=rejected)
            try:
                # aclosing: if our consumer stops early, the response closes now, not at GC.
                async with contextlib.aclosing(_chat(url, token, body)) as items:
                    async for item in items:
                        yield item
                return
            except _TokenRejected as exc:
                logger.info("ERNIE rejected the access token (%s); fetching a new one", exc.error.code)
                rejected, error = token, exc.error
        raise ProviderError(f"ERNIE rejected a freshly issued access token: {error.message}", code=error.code)

    async def _access_token(self, api_key: str, secret_key: str, *, rejected: str | None) -> str:
        key = (api_key, secret_key)
        cached = self._tokens.get(key)
        if cached and cached.usable(rejected):
            return cached.value
        # One refresh at a time: a burst of players must not fetch fifty tokens.
        async with self._lock(key):
            cached = self._tokens.get(key)
            if cached and cached.usable(rejected):
                return cached.value
            token = await _fetch_token(api_key, secret_key)
            self._tokens[key] = token
            return token.value

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get((loop, *key))
        if lock is None:
            for dead in [k for k in self._locks if k[0].is_closed()]:
                del self._locks[dead]
            lock = self._locks[(loop, *key)] = asyncio.Lock()
        return lock


def _base_url() -> str:
    return settings.ERNIE_BASE_URL.rstrip("/")


def _credentials() -> tuple[str, str]:
    if not (settings.ERNIE_API_KEY and settings.ERNIE_SECRET_KEY):
        raise ProviderError(
            "ERNIE_API_KEY and ERNIE_SECRET_KEY must be set to use the ERNIE provider",
            code="not_configured",
        )
    return settings.ERNIE_API_KEY, settings.ERNIE_SECRET_KEY


def _request_body(request: ChatRequest) -> dict[str, Any]:
    system = request.system + _tool_notes(request.tool_round)
    if len(system) > ERNIE_MAX_CHARS - MIN_QUESTION_CHARS:
        logger.warning("System prompt of %d chars cut to fit ERNIE's limit", len(system))
        system = system[: ERNIE_MAX_CHARS - MIN_QUESTION_CHARS]
    budget = min(settings.LLM_HISTORY_CHARS, ERNIE_MAX_CHARS - len(system))
    messages = build_ernie_messages(request.messages, budget)
    if not messages:
        raise ProviderError("the conversation has no player message to answer", code="no_question")
    body: dict[str, Any] = {"messages": messages, "stream": True}
    if system:
        body["system"] = system
    if request.user_id:
        body["user_id"] = request.user_id
    if request.functions and not settings.ERNIE_MODEL.startswith(NO_FUNCTIONS_MODELS):
        body["functions"] = request.functions
    temperature = request.temperature if request.temperature is not None else settings.LLM_TEMPERATURE
    if temperature is not None:
        # ERNIE accepts (0, 1]; 0 is an error rather than "greedy".
        body["temperature"] = min(max(float(temperature), 0.01), 1.0)
    return body


def _tool_notes(tool_round: ToolRound | None) -> str:
    """The tools' outcomes, for v1 in the system prompt: the record the model answers from."""
    if tool_round is None:
        return ""
    return "".join(
        f"\n\nResult of the internal tool {outcome.call.name} for this player (JSON): {outcome.content}"
        for outcome in tool_round.outcomes
    )


async def _fetch_token(api_key: str, secret_key: str) -> _Token:
    params = {"grant_type": "client_credentials", "client_id": api_key, "client_secret": secret_key}
    try:
        async with get_session().post(
            f"{_base_url()}/oauth/2.0/token", params=params, timeout=client_timeout()
        ) as resp:
            status, text = resp.status, await resp.text(errors="replace")
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise network_error(exc, "ERNIE token request") from exc
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "error" in payload:
        # invalid_client: wrong API key or secret key; retrying cannot help.
        detail = payload.get("error_description", "")
        raise ProviderError(f"ERNIE token request refused: {payload['error']} {detail}".strip(), code=payload["error"])
    if not (isinstance(payload, dict) and payload.get("access_token")):
        raise ProviderError(
            f"ERNIE token endpoint replied HTTP {status}: {text[:200]!r}",
            retryable=status >= 500,
            code=status if status >= 300 else "malformed",
        )
    expires_in = float(payload.get("expires_in") or 0)
    margin = min(3600.0, expires_in * 0.1)
    return _Token(payload["access_token"], time.monotonic() + expires_in - margin)


async def _chat(url: str, token: str, body: dict[str, Any]) -> AsyncIterator[StreamItem]:
    """One upstream request. Raises _TokenRejected only before the first item."""
    try:
        async with get_session().post(url, params={"access_token": token}, json=body, timeout=client_timeout()) as resp:
            if resp.status >= 300:
                raise await _http_error(resp)
            if resp.content_type == "application/json":
                # Not a stream: an error object (or a whole non-stream reply).
                for item in _whole_reply(await resp.text(errors="replace")):
                    yield item
                return
            parser = SSEParser()
            started = False
            async for chunk in resp.content.iter_any():
                items, failure = items_of_read(parser.feed(chunk), functools.partial(_read_line, started))
                for item in items:
                    started = True
                    yield item
                    if isinstance(item, Finish):
                        await drain(resp)
                        return
                if failure is not None:
                    raise failure
            for kind, text in parser.flush():
                for item in _items(kind, text, started=started):
                    yield item
                    if isinstance(item, Finish):
                        return
            raise ProviderError("ERNIE stream ended before its last chunk", retryable=True, code="incomplete")
    except SSEError as exc:
        raise ProviderError(f"ERNIE sent an unreadable stream: {exc}", code="malformed") from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise network_error(exc, "ERNIE chat request") from exc


def _read_line(started: bool, kind: str, text: str, more: bool) -> list[StreamItem]:
    """_items for agents/providers/reads.py: `more` is earlier text in the same read."""
    return _items(kind, text, started=started or more)


def _items(kind: str, text: str, *, started: bool) -> list[StreamItem]:
    """What one SSE line means: nothing, a Delta, a Finish, or an exception."""
    if kind != "data":
        # ERNIE (and the SDK) send errors as bare JSON lines; other noise is ignored.
        try:
            stray = json.loads(text)
        except ValueError:
            return []
        if isinstance(stray, dict) and "error_code" in stray:
            raise _api_error(stray, started=started)
        return []
    try:
        chunk = json.loads(text)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise ProviderError(f"ERNIE sent a malformed chunk: {text[:200]!r}", code="malformed")
    if "error_code" in chunk:
        raise _api_error(chunk, started=started)
    if chunk.get("need_clear_history"):
        raise SafetyBlocked(ban_round=chunk.get("ban_round", -1))
    items: list[StreamItem] = []
    if result := chunk.get("result"):
        items.append(Delta(result))
    if call := chunk.get("function_call"):
        items.append(_function_call(call))
    if chunk.get("is_end"):
        usage = chunk.get("usage") or {}
        items.append(
            Finish(
                finish_reason=chunk.get("finish_reason") or "normal",
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                truncated=bool(chunk.get("is_truncated")),
            )
        )
    return items


def _function_call(call: dict[str, Any]) -> FunctionCall:
    """ERNIE's `function_call`: {"name", "arguments": a JSON string, "thoughts"}."""
    try:
        arguments = json.loads(call.get("arguments") or "{}")
    except ValueError:
        arguments = {}
    return FunctionCall(str(call.get("name", "")), arguments if isinstance(arguments, dict) else {})


def _whole_reply(text: str) -> list[StreamItem]:
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise ProviderError(f"ERNIE sent a malformed reply: {text[:200]!r}", code="malformed")
    if "error_code" in payload:
        raise _api_error(payload, started=False)
    # A non-stream reply has the same fields as a last chunk.
    items = _items("data", json.dumps({**payload, "is_end": True}), started=False)
    if not items:
        raise ProviderError(f"ERNIE sent a reply without a result: {text[:200]!r}", code="malformed")
    return items


def _api_error(payload: dict[str, Any], *, started: bool, wait: float | None = None) -> Exception:
    code = payload.get("error_code")
    error = ProviderError(
        f"ERNIE error {code}: {payload.get('error_msg', '')}",
        retryable=code in RETRYABLE_CODES,
        code=code,
        rate_limited=code in RATE_LIMIT_CODES,
        retry_after=wait,
    )
    if code in TOKEN_REJECTED_CODES and not started:
        return _TokenRejected(error)
    return error


async def _http_error(resp: aiohttp.ClientResponse) -> Exception:
    text = await resp.text(errors="replace")
    wait = retry_after(resp.headers)
    with contextlib.suppress(ValueError):
        payload = json.loads(text)
        if isinstance(payload, dict) and "error_code" in payload:
            error = _api_error(payload, started=False, wait=wait)
            if isinstance(error, ProviderError) and resp.status >= 500:
                error.retryable = True
            return error
    # Gateway failures name themselves in headers rather than in the body.
    bce_code = resp.headers.get("X-Bce-Error-Code")
    bce_message = resp.headers.get("X-Bce-Error-Message", "")
    detail = f"{bce_code} {bce_message}".strip() if bce_code else text[:200]
    return ProviderError(
        f"ERNIE replied HTTP {resp.status}: {detail}",
        retryable=resp.status >= 500,
        code=bce_code or resp.status,
        rate_limited=resp.status == 429,
        retry_after=wait,
    )
