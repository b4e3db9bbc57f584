"""One agent's process in the takeover race (tests/chat/test_takeover_race_postgres.py).

    python -m tests.chat.race_worker <username> <conversation id>...

Sets Django up, says `ready`, waits for `go` on stdin, then takes over every
conversation as fast as it can and prints one JSON object: id -> "won", or the
username of the agent it was told holds the chat.
"""

from __future__ import annotations

import json
import os
import sys

import django


def main(username: str, ids: list[int]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    from chat import handoff, presence

    agent = get_user_model().objects.get(username=username)
    presence.profile_for(agent)  # warm the connection and the profile row
    print("ready", flush=True)
    sys.stdin.readline()
    results: dict[int, str | None] = {}
    for conversation_id in ids:
        try:
            handoff.conversation_take_over(conversation_id=conversation_id, agent=agent)
            results[conversation_id] = "won"
        except handoff.AlreadyTaken as exc:
            results[conversation_id] = exc.holder.username if exc.holder else None
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], [int(arg) for arg in sys.argv[2:]])
