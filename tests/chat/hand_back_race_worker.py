"""One side of the hand-back race (tests/chat/test_hand_back_race_postgres.py), in a process
of its own as a web process's helper would be.

    python -m tests.chat.hand_back_race_worker agent|player|other-tab <conversation id>...

Sets Django up and says `ready`; then, for each conversation, waits for a line on stdin (the
other side gets its line at the same moment) and: `agent` hands the chat back to the bot and
starts the answer the hand-back asks for, as the staff socket does; `player` (and `other-tab`,
the player's other tab on a third web process) sends a new message and starts its answer, as
the player socket does. Prints the id of the answer it
started, or `-`, for each.
"""

from __future__ import annotations

import os
import random
import sys
import time

import django


def main(side: str, ids: list[int]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    from chat import handoff
    from chat.models import Player
    from chat.streaming import jobs

    agent = get_user_model().objects.get(username="race-alice")
    player = Player.objects.get(display_name="Hand-back racer")
    jobs._prepare(ids[0], None)  # the pipeline's first call loads what it reads: not in the race
    print("ready", flush=True)
    for cid in ids:
        sys.stdin.readline()
        start = None
        if side == "agent":
            change = handoff.conversation_hand_back(conversation_id=cid, agent=agent)
            if change is not None and change.answer is not None:
                start = jobs._start_and_prepare(cid, change.answer)  # staff_consumer: start_answer
        else:
            # A few milliseconds later or not: before the hand-back, between it and its answer's
            # start, or after that start, each order of the writes comes up.
            time.sleep(random.uniform(0, 0.08))
            received, start = jobs._receive_and_start(
                start=True, player=player, conversation_id=cid, client_id=f"{side}-{cid}", text=f"hello? ({side})"
            )
            if start is None and received.answer:  # the consumer's start_answer, with no answer row yet
                start = jobs._start_and_prepare(cid, received.message.pk)
        print(start.message.pk if start is not None else "-", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], [int(arg) for arg in sys.argv[2:]])
