"""A hand-back and the player's next messages at once, on three processes, on PostgreSQL.

Alice hands a chat back to the bot while its player's question is unanswered: the bot is to
answer it. In the same moment the player writes again from two tabs, each on another web
process. The hand-back and a message both started an answer, and the player read two at once:
one to the stale question, one to the new. One answer streams; the newest question is answered
once it ends.
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
alice, _ = User.objects.get_or_create(username="race-alice", defaults={"first_name": "Alice"})
alice.groups.add(Group.objects.get(name="agent"))
player = Player.objects.create(display_name="Hand-back racer")
ids = []
for n in range(30):
    c = Conversation.objects.create(player=player, state="human", assignee=alice, language="en")
    message_append(conversation_id=c.pk, sender="player", text=f"my top-up {n} is missing")
    ids.append(c.pk)
print(" ".join(map(str, ids)))
"""

# Every bot answer of each chat, in order, and which message each answers.
ANSWERS = """
import json
from chat.models import Message
ids = {ids}
out = {{}}
for cid in ids:
    said = list(Message.objects.filter(conversation_id=cid, sender__in=("player", "bot")).order_by("seq"))
    newest = [m.pk for m in said if m.sender == "player"][-1]
    out[cid] = {{
        "answers": [[m.pk, m.reply_to_id, m.status] for m in said if m.sender == "bot"],
        "newest_question": newest,
    }}
print(json.dumps(out))
"""

# The answers still streaming end, and their jobs look for a question that came meanwhile.
THE_ANSWERS_END = """
from chat import services
from chat.models import Message
from chat.streaming import jobs
for answer in Message.objects.filter(conversation_id__in={ids}, sender="bot", status="streaming"):
    services.bot_message_finish(
        message_id=answer.pk, text="done", status="done", ttft_ms=1, duration_ms=1,
        prompt_tokens=0, completion_tokens=0, meta={{}},
    )
    newest = jobs._latest_player_message.__wrapped__(answer.conversation_id)
    jobs._start_and_prepare(answer.conversation_id, newest)
"""


def test_a_hand_back_and_the_players_next_messages_from_two_tabs_at_once_start_one_answer(production_env):
    require_postgres()
    ids = last_line(servers.manage(production_env, "shell", "-c", SETUP).stdout).split()
    sides = (["agent", *ids], ["player", *ids], ["other-tab", *ids])
    workers = ready_workers(production_env, "tests.chat.hand_back_race_worker", *sides)
    for _ in ids:  # each chat raced for at once
        signal(workers)
        for worker in workers:
            worker.stdout.readline()
    for worker in workers:
        worker.communicate(timeout=60)

    def answers() -> dict:
        script = ANSWERS.format(ids=[int(i) for i in ids])
        return json.loads(last_line(servers.manage(production_env, "shell", "-c", script).stdout))

    raced = answers()
    two = [cid for cid, chat in raced.items() if len(chat["answers"]) != 1]
    assert not two, f"chats with other than one answer: {[raced[cid] for cid in two]}"

    # An answer to the question before the newest: the newest is answered once it ends.
    servers.manage(production_env, "shell", "-c", THE_ANSWERS_END.format(ids=[int(i) for i in ids]))
    for chat in answers().values():
        assert chat["answers"][-1][1] == chat["newest_question"], chat
    stale = sum(chat["answers"][0][1] != chat["newest_question"] for chat in raced.values())
    print(f"\n{len(ids)} hand-backs raced: {stale} answered the question before the newest first")
