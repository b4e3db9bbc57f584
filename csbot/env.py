"""Typed readers for settings that come from the environment.

A bad value raises ImproperlyConfigured at start-up rather than being guessed at.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """The variable, or `default` when it is unset or empty.

    Empty counts as unset, as for numbers: docker-compose's `${OPENAI_BASE_URL:-}` passes an
    empty value for a variable the operator did not set, and that replaced csbot's default
    URL with "" (every answer then failed).
    """
    raw = os.environ.get(name)
    return default if raw is None or raw.strip() == "" else raw


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_str_or_off(name: str, default: str) -> str:
    """The variable; `default` only when it is unset. Set but empty, it reads as "" (off).

    For a protection that is on by default and that an operator turns off on purpose
    (CONTENT_SECURITY_POLICY): unlike env_str, an empty value is not the default here.
    """
    raw = os.environ.get(name)
    return default if raw is None else raw.strip()


def env_choice(name: str, default: str, choices: tuple[str, ...], unknown: str = "a value csbot does not know") -> str:
    """The variable, lower-cased, which must be `default` or one of `choices`.

    A name csbot does not know stops it at start-up, saying which it knows, rather than
    read as something else or fail later where nobody looks: `LLM_PROVIDER=erine` started
    a web process that said it was ready and failed every player's answer.
    """
    value = env_str(name, default).strip().lower()
    if value != default and value not in choices:
        raise ImproperlyConfigured(f"{name} is {value!r}, {unknown}: set it to one of {', '.join(choices)}.")
    return value


def require_set(names: tuple[str, ...], *, needed_by: str, without: str) -> None:
    """Stop at start-up unless every one of `names` is set: `needed_by` can't work without
    them, and `without` says what would happen instead (where only players would see it)."""
    missing = [name for name in names if not env_str(name)]
    if missing:
        one = len(missing) == 1
        raise ImproperlyConfigured(
            f"{needed_by}, but {' and '.join(missing)} {'is' if one else 'are'} unset or empty: {without}. "
            f"Set {'it' if one else 'them'} (README, Configuration)."
        )
