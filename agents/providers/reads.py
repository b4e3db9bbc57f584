"""One network read of an upstream stream, as the items it holds, adjacent deltas joined.

A provider relays what each read of the upstream's socket holds. Usually that is one
chunk. When the process is behind (a burst of players on a busy machine), one read
holds several, and relaying them as one delta costs one frame, one buffer write and
one JSON encoding instead of several, while the same text reaches the player no
later. So under load the CPU per chunk falls instead of the delays growing
(docs/benchmarks-history.md, "The eleventh round").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .base import Delta, Finish, StreamItem
from .sse import SSELine

# read(kind, text, more): the items of one SSE line; `more` says whether this read has
# already given items (so an error in it comes after text: not retryable).
LineReader = Callable[[str, str, bool], list[StreamItem]]


def items_of_read(lines: Iterable[SSELine], read: LineReader) -> tuple[list[StreamItem], Exception | None]:
    """The read's items up to its Finish, and the error that ended it early, if any.

    The error is returned rather than raised, so that the text read before it still
    reaches the player before the error does, as it did chunk by chunk.
    """
    items: list[StreamItem] = []
    try:
        for kind, text in lines:
            for item in read(kind, text, bool(items)):
                if isinstance(item, Delta) and items and isinstance(items[-1], Delta):
                    items[-1] = Delta(items[-1].text + item.text)
                else:
                    items.append(item)
                if isinstance(item, Finish):
                    return items, None
    except Exception as exc:  # the provider's own errors: ProviderError, SafetyBlocked
        return items, exc
    return items, None
