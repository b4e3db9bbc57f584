"""LLM providers: one module per external API, picked by settings.LLM_PROVIDER."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import (
    ChatMessage,
    ChatRequest,
    Delta,
    Finish,
    FunctionCall,
    Passage,
    Provider,
    ProviderError,
    SafetyBlocked,
)

PROVIDERS = {
    "local": "agents.providers.local.LocalProvider",
    "ernie": "agents.providers.ernie.ErnieProvider",
    "openai": "agents.providers.openai_compat.OpenAICompatProvider",
}

# The providers whose models may call the bot's tools (agents/tools.py) while answering.
TOOL_CALLING = frozenset({"ernie", "openai"})

_instances: dict[str, Provider] = {}


def get_provider(name: str | None = None) -> Provider:
    """The process-wide provider instance (it holds the token cache and HTTP pool)."""
    name = name or settings.LLM_PROVIDER
    if name not in _instances:
        try:
            dotted = PROVIDERS[name]
        except KeyError:
            raise ImproperlyConfigured(f"LLM_PROVIDER must be one of {sorted(PROVIDERS)}, got {name!r}") from None
        module_name, class_name = dotted.rsplit(".", 1)
        _instances[name] = getattr(import_module(module_name), class_name)()
    return _instances[name]


def import_configured() -> None:
    """Import the configured provider's module without making the instance (its HTTP
    session belongs to the event loop that first streams). At start-up: the first answer
    imported it on the event loop, holding every stream of the process for about 70 ms
    (docs/benchmarks-history.md, "The twelfth round")."""
    import_module(PROVIDERS[settings.LLM_PROVIDER].rsplit(".", 1)[0])  # a name it lacks: csbot/settings.py refuses


def reset_providers() -> None:
    """Forget cached instances (tests change settings between cases)."""
    _instances.clear()


__all__ = [
    "ChatMessage",
    "ChatRequest",
    "Delta",
    "Finish",
    "FunctionCall",
    "Passage",
    "Provider",
    "ProviderError",
    "SafetyBlocked",
    "TOOL_CALLING",
    "get_provider",
    "reset_providers",
]
