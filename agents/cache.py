"""A per-process value built from the database and rebuilt when the data changes.

Each process checks a cheap version query (counts, max updated_at) at most
every `every` seconds, so an edit in one process reaches the others within
that time without a query per use. `invalidate()` makes the next use check now.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Rechecked(Generic[T]):
    def __init__(self, load: Callable[[], T], version: Callable[[], Hashable], *, every: float = 5.0) -> None:
        self._load = load
        self._version_of = version
        self.every = every
        self._lock = threading.Lock()
        self._value: T | None = None
        self._version: Hashable | None = None
        self._checked_at = -math.inf

    def get(self) -> T:
        if self._value is not None and time.monotonic() - self._checked_at < self.every:
            return self._value
        with self._lock:
            if self._value is not None and time.monotonic() - self._checked_at < self.every:
                return self._value
            version = self._version_of()
            if self._value is None or version != self._version:
                self._value = self._load()
                self._version = version
            self._checked_at = time.monotonic()
            return self._value

    def invalidate(self) -> None:
        self._checked_at = -math.inf
