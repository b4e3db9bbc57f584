"""Calling the company's internal systems: the tool registry (agents.models.Tool).

A tool is an HTTP endpoint. Its parameters come from the conversation's facts,
with one rule that nothing overrides, the *player scope*: the `player_id`
parameter is always the conversation's verified player id (the game token's
`pid`), never a value the player typed. Without a verified id a tool that needs
one is not called at all.

Calls use `requests` and are synchronous: async code runs them in a worker
thread (`acall`). They never raise for upstream trouble; the ToolResult says
what happened (`ok`, `error` = timeout / http_<status> / unreachable / not_found
/ bad_reply / not_verified / missing_facts) so the bot can tell the player.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from agents.facts import PLAYER_ID
from agents.tool_credentials import credential_for
from csbot.db import in_worker

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    url: str
    method: str = "GET"
    params: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = 5.0
    auth_header: str = ""
    auth_env: str = ""

    @classmethod
    def from_model(cls, tool) -> ToolSpec:
        return cls(
            name=tool.name,
            description=tool.description,
            url=tool.url,
            method=tool.method,
            params=dict(tool.params or {}),
            timeout_seconds=tool.timeout_seconds,
            auth_header=tool.auth_header,
            auth_env=tool.auth_env,
        )

    def function_schema(self) -> dict[str, Any]:
        """The tool as an ERNIE / OpenAI `functions` entry. player_id is never offered to the model."""
        properties = {
            param: {"type": "string", "description": f"the {fact.replace('_', ' ')}"}
            for param, fact in self.params.items()
            if fact != PLAYER_ID
        }
        return {
            "name": self.name,
            "description": self.description,
            "parameters": {"type": "object", "properties": properties, "required": list(properties)},
        }


@dataclass
class ToolResult:
    tool: str
    ok: bool
    data: Any = None
    error: str = ""
    http_status: int | None = None
    elapsed_ms: float = 0.0
    params: dict[str, str] = field(default_factory=dict)

    def as_meta(self) -> dict[str, Any]:
        """What is stored with the bot's message (Message.meta["tool_calls"])."""
        return {
            "tool": self.tool,
            "ok": self.ok,
            "error": self.error,
            "http_status": self.http_status,
            "elapsed_ms": self.elapsed_ms,
            "params": self.params,
            "data": self.data if self.ok else None,
        }


def tool_arguments(spec: ToolSpec, *, facts: dict[str, str], verified_player_id: str | None) -> dict[str, str]:
    """The request parameters, or raises MissingArguments. Player scope is enforced here."""
    arguments: dict[str, str] = {}
    missing: list[str] = []
    for param, fact in spec.params.items():
        if fact == PLAYER_ID:
            if not verified_player_id:
                raise MissingArguments("not_verified", [PLAYER_ID])
            arguments[param] = verified_player_id
        elif facts.get(fact):
            arguments[param] = str(facts[fact])
        else:
            missing.append(fact)
    if missing:
        raise MissingArguments("missing_facts", missing)
    return arguments


class MissingArguments(Exception):
    def __init__(self, reason: str, facts: list[str]) -> None:
        super().__init__(f"{reason}: {', '.join(facts)}")
        self.reason = reason
        self.facts = facts


def call(spec: ToolSpec, *, facts: dict[str, str], verified_player_id: str | None) -> ToolResult:
    """Call the tool for this conversation. Sync (requests): run it in a thread."""
    try:
        arguments = tool_arguments(spec, facts=facts, verified_player_id=verified_player_id)
    except MissingArguments as exc:
        return ToolResult(spec.name, ok=False, error=exc.reason, params={"missing": ",".join(exc.facts)})
    url, rest = _url(spec, arguments)
    headers = {"Accept": "application/json"}
    credential = credential_for(spec.auth_env, url) if spec.auth_header and spec.auth_env else None
    if credential:
        headers[spec.auth_header] = credential
    started = time.perf_counter()
    result = ToolResult(spec.name, ok=False, params=arguments)
    try:
        if spec.method.upper() == "POST":
            response = requests.post(url, json=rest, headers=headers, timeout=spec.timeout_seconds)
        else:
            response = requests.get(url, params=rest, headers=headers, timeout=spec.timeout_seconds)
    except requests.Timeout:
        result.error = "timeout"
    except requests.RequestException as exc:
        log.warning("tool %s unreachable: %s", spec.name, exc)
        result.error = "unreachable"
    else:
        result.http_status = response.status_code
        result.ok, result.data, result.error = _read(response)
    result.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    if not result.ok:
        log.info("tool %s failed: %s (HTTP %s)", spec.name, result.error, result.http_status)
    return result


async def acall(spec: ToolSpec, *, facts: dict[str, str], verified_player_id: str | None) -> ToolResult:
    """`call` off the event loop, in a worker thread (not the shared DB thread)."""
    return await in_worker(call, spec, facts=facts, verified_player_id=verified_player_id)


def _url(spec: ToolSpec, arguments: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The URL with its placeholders filled; the arguments not used in it go in the query or body."""
    used: set[str] = set()

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key == "GAME_BACKEND_URL":
            return settings.GAME_BACKEND_URL.rstrip("/")
        used.add(key)
        return quote(arguments.get(key, ""), safe="")

    url = _PLACEHOLDER.sub(fill, spec.url)
    return url, {k: v for k, v in arguments.items() if k not in used}


def _read(response: requests.Response) -> tuple[bool, Any, str]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code == 404:
        return False, data, "not_found"
    if response.status_code >= 300:
        return False, data, f"http_{response.status_code}"
    if data is None:
        return False, None, "bad_reply"
    return True, data, ""


def facts_from_function_call(spec: ToolSpec, arguments: dict, fact_specs: dict) -> dict[str, str]:
    """The facts an LLM's function call supplies, each checked like a fact the player typed.

    A `player_id` argument is dropped whatever it says: player scope.
    """
    from agents.facts import validate

    facts: dict[str, str] = {}
    for param, fact in spec.params.items():
        if fact == PLAYER_ID or param not in arguments:
            continue
        raw = str(arguments[param])
        value = validate(fact_specs[fact], raw) if fact in fact_specs else raw
        if value:
            facts[fact] = value
    return facts
