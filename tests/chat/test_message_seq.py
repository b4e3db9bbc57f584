"""Message seqs: one UPDATE ... RETURNING per message, consecutive, and safe under concurrency."""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.models import Conversation, Message, Player
from tests import servers
from tests.services import require_postgres

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db) -> Conversation:
    player = Player.objects.create(display_name="Lin", language="en")
    return Conversation.objects.create(player=player)


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The queries run, without the test transaction's savepoints."""
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_appends_take_consecutive_seqs_and_touch_the_conversation(chat):
    before = chat.updated_at
    seqs = [services.message_append(conversation_id=chat.pk, sender="player", text=f"m{n}").seq for n in range(3)]
    chat.refresh_from_db()
    assert seqs == [1, 2, 3]
    assert chat.last_seq == 3
    assert chat.updated_at > before
    assert list(Message.objects.filter(conversation=chat).order_by("seq").values_list("text", flat=True)) == [
        "m0",
        "m1",
        "m2",
    ]


def test_an_append_is_one_update_and_one_insert(chat):
    with CaptureQueriesContext(connection) as queries:
        services.message_append(conversation_id=chat.pk, sender="bot", text="")
    sql = statements(queries)
    assert len(sql) == 2, sql
    assert sql[0].startswith("UPDATE") and "RETURNING" in sql[0]
    assert sql[1].startswith("INSERT")


def test_an_append_to_a_missing_conversation_fails_and_stores_nothing(chat):
    with pytest.raises(Conversation.DoesNotExist):
        services.message_append(conversation_id=chat.pk + 1000, sender="player", text="hello?")
    assert not Message.objects.exists()


def test_a_failed_insert_gives_its_seq_back(chat):
    services.message_append(conversation_id=chat.pk, sender="player", text="a", client_id="c1")
    with pytest.raises(IntegrityError):
        services.message_append(conversation_id=chat.pk, sender="player", text="a again", client_id="c1")
    assert services.message_append(conversation_id=chat.pk, sender="player", text="b").seq == 2
    chat.refresh_from_db()
    assert chat.last_seq == 2


def test_without_returning_the_seq_is_read_back(chat, monkeypatch):
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    assert [services.message_append(conversation_id=chat.pk, sender="player", text=t).seq for t in "ab"] == [1, 2]
    with pytest.raises(Conversation.DoesNotExist):
        services.message_append(conversation_id=chat.pk + 1000, sender="player", text="hello?")


def test_without_returning_a_question_and_its_answers_row_are_read_back(chat, monkeypatch):
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    received = services.player_message_receive(
        player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi", with_answer=True
    )
    assert (received.message.seq, received.reply.seq, received.reply.reply_to_id) == (1, 2, received.message.pk)
    assert received.conversation == {"language": chat.language, "facts": {}}


@pytest.mark.parametrize(("state", "answer"), [("bot", True), ("waiting", False), ("human", False)])
def test_a_player_message_is_answered_only_in_a_chat_the_bot_holds(chat, state, answer):
    Conversation.objects.filter(pk=chat.pk).update(state=state)
    services.message_append(conversation_id=chat.pk, sender="system", text="note")

    with CaptureQueriesContext(connection) as queries:
        received = services.player_message_receive(
            player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi"
        )

    assert received.created and received.answer is answer
    assert received.conversation_id == chat.pk
    assert (received.state, received.message.seq) == (state, 2)
    chat.refresh_from_db()
    assert chat.last_seq == 2
    # The seq (UPDATE ... RETURNING, no read-back: under its lock it checks that the chat is
    # open and that the client id is new), the message.
    assert len(statements(queries)) == 2, statements(queries)


def test_a_question_to_the_bot_is_stored_with_its_answers_row_in_one_transaction(chat):
    Conversation.objects.filter(pk=chat.pk).update(language="zh-hans", facts={"server": "S3"})

    with CaptureQueriesContext(connection) as queries:
        received = services.player_message_receive(
            player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi", with_answer=True
        )

    question, reply = received.message, received.reply
    assert (question.seq, question.sender, question.text) == (1, "player", "hi")
    assert (reply.seq, reply.sender, reply.status, reply.reply_to_id) == (2, "bot", "streaming", question.pk)
    assert received.answer and received.created
    assert received.conversation == {"language": "zh-hans", "facts": {"server": "S3"}}
    assert Message.objects.get(pk=reply.pk).status == "streaming"
    chat.refresh_from_db()
    assert chat.last_seq == 2
    # The seqs, the question, the answer's row: one UPDATE and two INSERTs.
    assert [sql.split()[0] for sql in statements(queries)] == ["UPDATE", "INSERT", "INSERT"]


@pytest.mark.parametrize("state", ["waiting", "human"])
def test_no_answers_row_is_stored_in_a_chat_the_bot_does_not_hold(chat, state):
    Conversation.objects.filter(pk=chat.pk).update(state=state)
    received = services.player_message_receive(
        player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi", with_answer=True
    )
    assert (received.answer, received.reply, received.message.seq) == (False, None, 1)
    assert not Message.objects.filter(sender="bot").exists()
    chat.refresh_from_db()
    assert chat.last_seq == 1


def test_a_resent_question_stores_no_second_answer(chat):
    first = services.player_message_receive(
        player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi", with_answer=True
    )
    again = services.player_message_receive(
        player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi", with_answer=True
    )
    assert (again.created, again.answer, again.reply, again.message.pk) == (False, False, None, first.message.pk)
    assert Message.objects.filter(sender="bot").count() == 1


def test_a_resent_client_id_returns_the_stored_message(chat):
    first = services.player_message_receive(player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi")
    again = services.player_message_receive(player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi")
    assert (again.created, again.answer, again.message.pk) == (False, False, first.message.pk)
    chat.refresh_from_db()
    assert chat.last_seq == 1


def test_a_client_id_resent_after_its_chat_closed_returns_the_stored_message(chat):
    first = services.player_message_receive(player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi")
    Conversation.objects.filter(pk=chat.pk).update(state="closed")
    newer = Conversation.objects.create(player=chat.player)

    again = services.player_message_receive(player=chat.player, conversation_id=newer.pk, client_id="c1", text="hi")

    assert (again.created, again.message.pk, again.conversation_id) == (False, first.message.pk, chat.pk)
    newer.refresh_from_db()
    assert newer.last_seq == 0


def test_a_message_to_a_closed_chat_opens_a_new_one(chat):
    Conversation.objects.filter(pk=chat.pk).update(state="closed")
    received = services.player_message_receive(player=chat.player, conversation_id=chat.pk, client_id="c1", text="hi")
    assert received.conversation_id != chat.pk
    assert (received.state, received.message.seq, received.answer) == ("bot", 1, True)
    assert Conversation.objects.get(pk=received.conversation_id).last_seq == 1


RACE = """
import json, threading, time
from django.db import connection, transaction
from chat import services
from chat.models import Conversation, Player

player = Player.objects.create(display_name="Racer")
chat = Conversation.objects.create(player=player)
results, errors = [], []
go = threading.Event()

def send(worker):
    try:
        go.wait()
        for n in range(25):
            r = services.player_message_receive(
                player=player, conversation_id=chat.pk, client_id=f"w{worker}-{n}", text="help",
                with_answer=worker % 2 == 0,
            )
            results.append((r.message.seq, r.answer))
            if r.reply is not None:
                results.append((r.reply.seq, "reply"))
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()

def take_over():
    go.wait()
    time.sleep(0.05)
    try:
        with transaction.atomic():  # what a takeover does: change the state, then write the note
            Conversation.objects.filter(pk=chat.pk).update(state="human")
            note = services.message_append(conversation_id=chat.pk, sender="system", text="joined")
        results.append((note.seq, None))
    finally:
        connection.close()

threads = [threading.Thread(target=send, args=(w,)) for w in range(6)] + [threading.Thread(target=take_over)]
for t in threads:
    t.start()
go.set()
for t in threads:
    t.join()
chat.refresh_from_db()
print(json.dumps({"results": results, "errors": errors, "last_seq": chat.last_seq}))
"""


def test_concurrent_appends_on_postgres_never_share_a_seq_and_see_the_state_of_their_turn(production_env):
    require_postgres()
    out = json.loads(servers.manage(production_env, "shell", "-c", RACE).stdout.strip().splitlines()[-1])

    assert out["errors"] == []
    seqs = sorted(seq for seq, _ in out["results"])
    replies = [seq for seq, answer in out["results"] if answer == "reply"]
    assert seqs == list(range(1, 6 * 25 + len(replies) + 2)) and out["last_seq"] == seqs[-1]
    (note,) = [seq for seq, answer in out["results"] if answer is None]
    # Every message stored before the takeover's note is the bot's to answer; none after it.
    assert all(answer is (seq < note) for seq, answer in out["results"] if answer in (True, False))
    # Answers' rows were stored with their questions, so only before the note, each right after its question.
    assert replies and all(seq < note for seq in replies)
    assert all((seq - 1, True) in [tuple(r) for r in out["results"]] for seq in replies)


DUPLICATES = """
import json, threading
from django.db import connection
from chat import services
from chat.models import Conversation, Message, Player

player = Player.objects.create(display_name="Twice")
chat = Conversation.objects.create(player=player)
created, errors = [], []
go = threading.Barrier(2)

def send():
    try:
        for n in range(25):
            go.wait()  # both tabs send the same message at once
            r = services.player_message_receive(
                player=player, conversation_id=chat.pk, client_id=f"c{n}", text="help", with_answer=True
            )
            created.append(r.created)
            if r.reply is not None:  # its job ends it before the next question (it holds the chat's claim)
                services.bot_message_finish(message_id=r.reply.pk, text="ok", status="done")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()

threads = [threading.Thread(target=send) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
rows = Message.objects.filter(conversation=chat)
print(json.dumps({
    "errors": errors, "created": created.count(True),
    "questions": rows.filter(sender="player").count(), "answers": rows.filter(sender="bot").count(),
}))
"""


def test_a_message_sent_twice_at_once_on_postgres_is_stored_once_with_one_answer(production_env):
    require_postgres()
    out = json.loads(servers.manage(production_env, "shell", "-c", DUPLICATES).stdout.strip().splitlines()[-1])
    assert out == {"errors": [], "created": 25, "questions": 25, "answers": 25}
