"""The chat's answer claim: one bot answer streams at a time, whichever process stores the question.

Lin has two tabs. The answer stored with a question takes the chat's claim in that question's
UPDATE; a question stored while it streams (from his other tab, on any process) starts no answer
and waits; the answer's end releases the claim and says a question waited, so its job answers
it. Across two real daphne processes: tests/e2e/test_answers_one_at_a_time.py.
"""

from __future__ import annotations

import pytest

from chat import services
from chat.models import Conversation, Message, Player
from tests import servers
from tests.chat.answer_claim_scenario import run
from tests.services import require_postgres

pytestmark = pytest.mark.django_db


@pytest.fixture
def lin(db) -> Player:
    return Player.objects.create(display_name="Lin", language="en")


def ask(player: Player, client_id: str, text: str) -> services.Received:
    """A question from one of Lin's tabs, sent as the socket sends it (its process claimed nothing)."""
    conversation = services.conversation_current(player=player)
    return services.player_message_receive(
        player=player, conversation_id=conversation.pk, client_id=client_id, text=text, with_answer=True
    )


def end(answer: Message) -> services.Finished:
    return services.bot_message_finish(message_id=answer.pk, text="Open the Guild tab.", status="done")


def test_a_question_from_the_other_tab_while_the_answer_streams_waits_and_the_answers_end_says_so(lin):
    first = ask(lin, "tab-1", "How do I join a guild?")
    second = ask(lin, "tab-2", "How does leveling work?")

    assert first.reply is not None
    assert (second.reply, second.waits) == (None, True)  # no second answer beside the first
    assert Message.objects.filter(sender="bot").count() == 1
    assert end(first.reply) == services.Finished(stored=True, asked_since=True)  # its job answers it next


def test_an_answer_that_ends_with_nobody_waiting_frees_the_chat_for_the_next_question(lin):
    first = ask(lin, "tab-1", "How do I join a guild?")

    assert end(first.reply) == services.Finished(stored=True, asked_since=False)
    later = ask(lin, "tab-2", "How does leveling work?")
    assert later.reply is not None and not later.waits
    assert Conversation.objects.get(pk=later.conversation_id).answer_claim == later.reply.seq


def test_an_answer_its_dead_process_left_streaming_claims_nothing_once_the_sweep_failed_it(lin):
    first = ask(lin, "tab-1", "How do I join a guild?")
    services.answer_orphaned_fail(message_id=first.reply.pk)

    later = ask(lin, "tab-2", "How does leveling work?")
    assert later.reply is not None and not later.waits


def test_an_answer_failed_by_the_sweep_before_its_job_ended_it_is_not_ended_twice(lin):
    first = ask(lin, "tab-1", "How do I join a guild?")
    services.answer_orphaned_fail(message_id=first.reply.pk)

    assert end(first.reply) == services.Finished(stored=False, asked_since=None)
    assert Message.objects.get(pk=first.reply.pk).status == "failed"


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_answers_end_says_the_same_in_its_own_statements(lin):
    """As the answer's job stores its end (no transaction around it): on SQLite, the embedded
    default, in two statements of its own, on PostgreSQL in one."""
    first = ask(lin, "tab-1", "How do I join a guild?")
    second = ask(lin, "tab-2", "How does leveling work?")
    assert end(first.reply) == services.Finished(stored=True, asked_since=True)
    assert Conversation.objects.get(pk=first.conversation_id).answer_claim is None
    stored = Message.objects.get(pk=first.reply.pk)
    assert (stored.status, stored.text) == ("done", "Open the Guild tab.")

    later = ask(lin, "tab-3", "And how do I leave it?")
    assert later.reply is not None and not later.waits and second.waits
    assert end(later.reply) == services.Finished(stored=True, asked_since=False)

    last = ask(lin, "tab-4", "Thanks!")
    services.answer_orphaned_fail(message_id=last.reply.pk)
    assert end(last.reply) == services.Finished(stored=False, asked_since=None)


# What each answer's end said: stored, and whether a question waited for it.
ONLY_QUESTIONS_WAIT = {
    "a note for staff": [True, False],
    "his other tab's question, then a note": [True, True],
    "a player's message appended": [True, True],
}


@pytest.mark.django_db(transaction=True)
def test_a_line_for_staff_stored_while_the_answer_streams_is_not_a_question_waiting_for_it():
    """The answer's job looked for a question that waited after every note (a flagged question's,
    the queue's), and found none: only a player's message counts. SQLite's own statements."""
    assert run() == ONLY_QUESTIONS_WAIT


def test_on_postgres_a_line_for_staff_is_not_a_question_waiting_for_the_answer_either(production_env):
    """PostgreSQL's answer end, one statement reading the chat's row under its lock."""
    require_postgres()
    assert servers.scenario_printed(production_env, "tests.chat.answer_claim_scenario") == ONLY_QUESTIONS_WAIT
