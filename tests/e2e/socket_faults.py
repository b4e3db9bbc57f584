"""Standing between a page and its WebSocket in Playwright, to lose frames on purpose."""

from __future__ import annotations

import json
from collections.abc import Callable


def relay(
    ws,
    sent: list[dict],
    drop: Callable[[dict, object, object], bool],
    change: Callable[[dict], dict] | None = None,
) -> None:
    """Forward the page's socket to the server (a `page.route_web_socket` handler body).

    Frames from the page are recorded in `sent` (and go on as `change(frame)` says,
    when given); a frame to the page is lost when `drop(frame, ws, server)` says so.
    """
    server = ws.connect_to_server()

    def to_page(message):
        if not drop(json.loads(message), ws, server):
            ws.send(message)

    def to_server(message):
        frame = json.loads(message)
        sent.append(frame)
        server.send(json.dumps(change(frame)) if change else message)

    server.on_message(to_page)
    ws.on_message(to_server)


def tail_lost(state: dict, frame: dict, *, from_delta: int = 3) -> bool:
    """Lose every delta from the `from_delta`th until an `end` passes: no offset shows a
    gap, only the `end`'s final length `n` does. What a resume brings after it passes."""
    state["ended"] = state.get("ended", False) or frame.get("type") == "end"
    if frame.get("t") == "d" and not state["ended"]:
        state["deltas"] = state.get("deltas", 0) + 1
        if state["deltas"] >= from_delta:
            state["dropped"] = True
            return True
    return False
