"""The contract every LLM provider keeps.

A provider turns a ChatRequest into an async stream: zero or more Delta items
(text in the order the model produced it) and then exactly one Finish. Anything
that goes wrong is a ProviderError whose `retryable` says whether sending the
same request again can help. Retrying is not the provider's job: see
agents/providers/retry.py, which only retries before the first delta.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Passage:
    """A piece of the knowledge base handed to the model, and shown as a source."""

    source_id: str
    title: str
    text: str
    score: float = 0.0
    url: str = ""


@dataclass
class ChatRequest:
    system: str
    messages: list[ChatMessage]
    passages: list[Passage] = field(default_factory=list)
    user_id: str = ""
    language: str = "zh-hans"
    temperature: float | None = None
    # Tools the model may call (ERNIE `functions`: name, description, JSON-schema parameters;
    # the OpenAI-compatible provider sends them as `tools`). Providers that cannot call functions
    # ignore them.
    functions: list[dict] = field(default_factory=list)
    # The tools the model called for this answer and what they returned, for it to answer with.
    tool_round: ToolRound | None = None


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class FunctionCall:
    """The model asks for a tool (ERNIE `function_call`, OpenAI `tool_calls`); a Finish follows.

    `id`: the OpenAI-compatible APIs' tool call id, which the tool's result must name (ERNIE v1
    has none)."""

    name: str
    arguments: dict
    id: str = ""


@dataclass(frozen=True)
class ToolOutcome:
    """A tool the model called, and what it returned: `content`, JSON for the model to read."""

    call: FunctionCall
    content: str


@dataclass(frozen=True)
class ToolRound:
    """The model's tool calls and their outcomes, sent back with the request that asks it to answer.

    `said`: what the model wrote before it called them (the player has read it already)."""

    outcomes: tuple[ToolOutcome, ...]
    said: str = ""


@dataclass(frozen=True)
class Finish:
    finish_reason: str = "normal"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The model stopped because of its output limit (ERNIE `is_truncated`).
    truncated: bool = False


StreamItem = Delta | FunctionCall | Finish


class ProviderError(Exception):
    """The upstream call failed. `retryable` says whether a retry can help.

    `rate_limited`: a quota that refreshes by itself (a QPS, RPM or TPM limit, HTTP 429), so
    retrying is a matter of waiting, not of luck (agents/providers/retry.py); `retry_after`:
    the seconds the upstream asked us to wait (Retry-After), when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        code: str | int | None = None,
        rate_limited: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable or rate_limited
        self.code = code
        self.rate_limited = rate_limited
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})" if self.code is not None else self.message


class SafetyBlocked(ProviderError):
    """The upstream judged the *player's input* unsafe (ERNIE `need_clear_history`).

    The reply must not be shown or saved, and the flagged turns must leave the
    history sent next time. `ban_round` is ERNIE's index of the sensitive round,
    -1 meaning the current question.
    """

    def __init__(self, message: str = "input flagged by upstream safety check", *, ban_round: int = -1) -> None:
        super().__init__(message, retryable=False, code="need_clear_history")
        self.ban_round = ban_round


class Provider(ABC):
    name: str = "base"

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """Yield Delta items then one Finish; raise ProviderError on failure."""

    async def aclose(self) -> None:  # pragma: no cover - default no-op
        return None
