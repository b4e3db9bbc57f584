"""An answer whose row was stored but whose job never started: a helper died mid-call.

A question's helper call stores the question and its answer's row (`streaming`) in one
transaction, then prepares the answer; the job that streams it starts in this process
only when the call returns (chat/streaming/jobs.py). A helper that dies after the commit
(killed, out of memory, during the pipeline) leaves a row that nobody will finish until
the orphan sweep fails it, minutes later (chat/streaming/lifecycle.py), and the player's
resend of the question is only a duplicate, which starts nothing.

So a resend asks whether its question's answer was left like that. Who may start it
again is settled without asking anyone: the row names the web process whose job was to
stream it (csbot/runner.py), and only that process looks. Its registry knows whether a
job of the conversation runs here, and the resend holds the conversation's answer
claim (answer_claim: nothing of it is starting or streaming in this process), so a
`streaming` row of its own is one that no job will ever finish. Two processes never both
answer it: any other process finds no row under its own name.
"""

from __future__ import annotations

import logging

from chat import selectors, services
from chat.events import publish
from chat.frames import stored_end_frame
from chat.models import Message
from chat.streaming.jobs import AnswerStart, _prepare
from csbot.helper_pool import helper_pool
from csbot.runner import runner_name

log = logging.getLogger(__name__)


def _answer_again(conversation_id: int, question_id: int, runner: str) -> AnswerStart | Message | None:
    """In a helper: the left answer prepared again (its row as it is), or failed if it had
    already streamed text (starting it again would rewrite what the player has read), or
    None when the question's answer is not one left by `runner`."""
    answer = services.answer_left_streaming(question_id=question_id, runner=runner)
    if answer is None:
        return None
    if answer.text:
        return services.answer_orphaned_fail(message_id=answer.pk)
    state = selectors.conversation_state(conversation_id=conversation_id)
    return AnswerStart(answer, state, _prepare(conversation_id, answer))


_again = helper_pool(_answer_again, priority=2)


async def answer_left_behind(conversation_id: int, question_id: int) -> AnswerStart | None:
    """For a resent question, under the conversation's answer claim in this process: its
    answer to start again when this process's call left it `streaming` with no job, else None.

    (An answer that had streamed some text is failed instead, and its `end` published.)
    """
    found = await _again(conversation_id, question_id, runner_name())
    if isinstance(found, Message):
        log.warning("answer %s was left streaming by a helper that died: failed", found.pk)
        await publish(conversation_id, stored_end_frame(found, found.text))
        return None
    if found is not None:
        log.warning("answer %s was left streaming by a helper that died: started again", found.message.pk)
    return found
