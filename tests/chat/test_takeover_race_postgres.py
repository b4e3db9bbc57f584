"""The takeover race for real: two agents in two processes on PostgreSQL, at once.

The default test database is SQLite, which serialises every write; on PostgreSQL
two conditional UPDATEs really do meet, and the row lock must let exactly one win.
"""

from __future__ import annotations

import json

from tests import servers
from tests.chat.race import last_line, ready_workers, signal
from tests.services import require_postgres

SETUP = """
from django.contrib.auth.models import Group, User
from chat.models import Conversation, Player
from chat.services import message_append
bob, _ = User.objects.get_or_create(username="race-bob", defaults={"first_name": "Bob"})
bob.groups.add(Group.objects.get(name="agent"))
alice, _ = User.objects.get_or_create(username="race-alice", defaults={"first_name": "Alice"})
alice.groups.add(Group.objects.get(name="agent"))
player = Player.objects.create(display_name="Racer")
ids = []
for n in range(40):
    c = Conversation.objects.create(player=player, state="waiting" if n % 2 else "bot")
    message_append(conversation_id=c.pk, sender="player", text=f"help {n}")
    ids.append(c.pk)
print(" ".join(map(str, ids)))
"""

CHECK = """
import json
from chat.models import Conversation, ConversationEvent, Message
ids = {ids}
out = {{}}
for c in Conversation.objects.filter(pk__in=ids).select_related("assignee"):
    out[c.pk] = {{
        "state": c.state,
        "assignee": c.assignee.username if c.assignee else None,
        "takeovers": ConversationEvent.objects.filter(conversation=c, kind="taken_over").count(),
        "joined": Message.objects.filter(conversation=c, sender="system").count(),
    }}
print(json.dumps(out))
"""


def test_two_agents_in_two_processes_race_for_the_same_chats_and_exactly_one_wins_each(production_env):
    require_postgres()
    env = {**production_env, "AGENT_MAX_CHATS": "1000"}
    ids = last_line(servers.manage(env, "shell", "-c", SETUP).stdout).split()

    workers = ready_workers(env, "tests.chat.race_worker", ["race-alice", *ids], ["race-bob", *ids])
    signal(workers)
    alice_saw, bob_saw = (json.loads(w.communicate(timeout=60)[0]) for w in workers)

    stored = json.loads(last_line(servers.manage(env, "shell", "-c", CHECK.format(ids=[int(i) for i in ids])).stdout))
    contested = 0
    for cid in ids:
        outcomes = {"race-alice": alice_saw[cid], "race-bob": bob_saw[cid]}
        winners = [name for name, result in outcomes.items() if result == "won"]
        assert len(winners) == 1, (cid, outcomes)
        loser = next(name for name in outcomes if name != winners[0])
        assert outcomes[loser] == winners[0], "the loser is told who has the chat"
        assert stored[cid] == {"state": "human", "assignee": winners[0], "takeovers": 1, "joined": 1}
        contested += 1
    won_by_alice = sum(r == "won" for r in alice_saw.values())
    print(f"\n{contested} chats raced for: Alice won {won_by_alice}, Bob won {contested - won_by_alice}")
