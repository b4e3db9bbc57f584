"""Answer jobs: the bot's reply to a player, generated apart from any socket.

A job is an asyncio task in the web process that accepted the player's message
(design-notes §1). It publishes every delta to the conversation's group, keeps
the text so far in the answer buffer for resuming clients, checkpoints the row
every few seconds and always stores the final text: `done`, `interrupted`
(cancelled: takeover, close) or `failed` (upstream error).

Cancellation crosses processes through the `conv.<id>.jobs` group: each process
has one control channel, in that group while something here holds the
conversation: its player sockets (from their connect) and its running job,
which may outlive them (JobRegistry.hold; see cancel_answer). The same channel
answers a dashboard asking whether the player is connected
(chat/player_sockets.py). Deltas leave this process only when a socket
elsewhere follows the conversation (chat/streaming/fanout.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from agents.pipeline import postprocess, prepare
from agents.pipeline.stream import answer_stream
from agents.providers import Delta, Finish, ProviderError, SafetyBlocked
from chat import player_sockets, selectors, services, staff_notify
from chat.events import jobs_group, publish, publish_delta
from chat.frames import delta_frame, dumps, end_frame, message_frame
from chat.handoff import failure_reason, wants_human
from chat.models import Conversation, Message
from chat.streaming.buffer import get_buffer
from chat.streaming.loops import per_loop, receive_forever
from csbot.db import RepeatedFailure, db_pool
from csbot.helper_pool import helper_pool

log = logging.getLogger(__name__)


class HumanTookOver(Exception):
    """The conversation left the bot's hands before an upstream call."""


class JobRegistry:
    """The answer jobs running in this process, on this event loop."""

    def __init__(self) -> None:
        self.tasks: dict[int, asyncio.Task] = {}
        # Answers whose row is being created: a cancellation is recorded, not sent (AnswerClaim).
        self.claims: dict[int, AnswerClaim] = {}
        # Conversations with a player message that arrived while a job ran.
        self.pending: set[int] = set()
        # Jobs whose answer is ending, or has ended and is being told to staff (after_answer):
        # a stop drops their pending question and cancels nothing (cancel_local).
        self.ending: set[int] = set()
        self._control_channel: str | None = None
        self._reader: asyncio.Task | None = None
        # Who here holds each conversation's jobs group (hold/release), and the last
        # group_add or group_discard sent for it, which the next one waits for.
        self.holders: Counter[int] = Counter()
        self._membership: dict[int, asyncio.Future] = {}
        self._joined_at: dict[int, float] = {}
        # The process is stopping (chat/streaming/lifecycle.py): no new question is taken here.
        self.stopping = False
        # ... and its grace period is over: a job cancelled now fails its answer (STOPPED).
        self.cutting_off = False
        # The conversations whose answer the stop failed (STOPPED): what was running when the
        # grace period ended includes answers already ending, which then finish as usual.
        self.cut_off: set[int] = set()

    async def stop(self, grace: float) -> Stopped:
        """The process is stopping: take no new question (`stopping`, the consumer refuses
        them), let the answers running or starting here finish for up to `grace` seconds,
        then fail those still running, each telling its player, and wait for them to be stored.

        Why a grace period: a rolling deploy stops every web process in turn, and failing
        their answers at once cut off every player who was reading one. An answer that
        still streams at the end of it fails as before (STOPPED): its text so far is kept
        as `failed`, its player told, and the chat goes to staff's queue.
        """
        self.stopping = True
        waited = self._answering()
        await self._wait_for_answers(grace)
        # A question still waiting behind an answer gets none started now (it would be cut at
        # once): its job hands the chat to staff instead (_run_jobs).
        self.cutting_off = True
        cut = self._answering()
        for claim in self.claims.values():
            claim.cancelled = True
        for conversation_id, task in self.tasks.items():
            if not task.done() and conversation_id not in self.claims and conversation_id not in self.ending:
                _stop(task)
        await self._wait_for_answers(STOP_WRITE_SECONDS)
        # Listed among the failed, an answer that was storing itself as the grace period ended sent
        # whoever read the log looking for a cut-off player who had read the whole answer.
        failed = self.cut_off | self._answering()  # (still running now: not stored, either)
        return Stopped(finished=sorted((waited | cut) - failed), failed=sorted(failed), ending=sorted(cut - failed))

    def _answering(self) -> set[int]:
        """The conversations with an answer starting or streaming here."""
        return {cid for cid, task in self.tasks.items() if not task.done()} | set(self.claims)

    def running_conversations(self) -> list[int]:
        return sorted(self._answering())

    async def _wait_for_answers(self, seconds: float) -> None:
        """Until no answer starts or streams here, for up to `seconds`. A claim becomes a
        task only when its question's call returns, so while one is out the wait looks again
        every STOP_POLL_SECONDS."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self._answering() and (left := deadline - loop.time()) > 0:
            running = [task for task in self.tasks.values() if not task.done()]
            timeout = min(left, STOP_POLL_SECONDS) if self.claims or not running else left
            if running:
                await asyncio.wait(running, timeout=timeout)
            else:
                await asyncio.sleep(timeout)

    async def hold(self, conversation_id: int) -> None:
        """Keep this process in the conversation's jobs group until `release`; returns once it is in.

        Why sockets hold it from their connect: an answer then starts with the process
        already in the group, not with a group_add before and a group_discard after
        (three Redis round trips on every answer's path, docs/benchmarks-history.md "The
        fourth round"). The job holds it too, as the player may leave mid-answer.
        """
        self.holders[conversation_id] += 1
        last = self._membership.get(conversation_id)
        stale = time.monotonic() - self._joined_at.get(conversation_id, 0.0) > REJOIN_SECONDS
        if self.holders[conversation_id] == 1 or last is None or _failed(last) or stale:
            self._joined_at[conversation_id] = time.monotonic()
            self._then(conversation_id, "group_add")
        try:
            await asyncio.shield(self._membership[conversation_id])
        except BaseException:  # not in (Redis failed) or no longer waiting: not a holder either
            self.release(conversation_id)
            raise

    def release(self, conversation_id: int) -> None:
        self.holders[conversation_id] -= 1
        if self.holders[conversation_id] <= 0:
            del self.holders[conversation_id]
            self._joined_at.pop(conversation_id, None)
            self._then(conversation_id, "group_discard")

    def _then(self, conversation_id: int, op: str) -> None:
        """group_add or group_discard, after the one before for this conversation: they must
        reach Redis in order (on two pooled connections a discard could overtake an add)."""
        before = self._membership.get(conversation_id)

        async def run() -> None:
            if before is not None:
                await asyncio.gather(before, return_exceptions=True)
            channel = await self.control_channel()
            await getattr(get_channel_layer(), op)(jobs_group(conversation_id), channel)

        future = asyncio.ensure_future(run())
        self._membership[conversation_id] = future
        future.add_done_callback(functools.partial(self._settled, conversation_id))

    def _settled(self, conversation_id: int, future: asyncio.Future) -> None:
        if _failed(future):
            log.error("jobs group change failed for conversation %s", conversation_id, exc_info=future.exception())
        if self._membership.get(conversation_id) is future and conversation_id not in self.holders:
            del self._membership[conversation_id]

    async def control_channel(self) -> str:
        if self._control_channel is None:
            layer = get_channel_layer()
            # The default prefix matters: channels_redis reads every process-local
            # channel through one shared list per prefix, and only one reader at a time.
            self._control_channel = await layer.new_channel()
            self._reader = asyncio.create_task(self._read_control(layer, self._control_channel))
        return self._control_channel

    async def _read_control(self, layer, channel: str) -> None:
        async for event in receive_forever(layer, channel, "answer control"):
            if event.get("type") == "answer.cancel" and event.get("from") != channel:  # ours: done at once
                self.cancel_local(event["conversation_id"])
            elif event.get("type") == player_sockets.QUERY:  # a dashboard opened the chat
                await player_sockets.answer_query(event["conversation_id"])

    def busy(self, conversation_id: int) -> bool:
        """An answer of the conversation is being started or streams here."""
        task = self.tasks.get(conversation_id)
        return conversation_id in self.claims or (task is not None and not task.done())

    def cancel_local(self, conversation_id: int) -> bool:
        self.pending.discard(conversation_id)
        claim = self.claims.get(conversation_id)
        if claim is not None:
            claim.cancelled = True
            return True
        if conversation_id in self.ending:
            # Cancelled, it would leave the answer `streaming` with no `end` for the player, or
            # cut short the escalation it announces: the takeover it assigns sends this stop.
            return True
        task = self.tasks.get(conversation_id)
        if task is None or task.done():
            return False
        _stop(task)
        return True


class Stopped(NamedTuple):
    """The conversations whose answers a stopping process let finish, and those it failed."""

    finished: list[int]
    failed: list[int]
    ending: list[int] = []  # of the finished, those that ended after the grace period, as the stop wrapped up


# Between tries to store an answer's end the database refused: quick at first (a lost
# connection, a failover), then every few seconds while it is away (AnswerJob._store_end).
END_RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

# After the grace period, how long the answers failed then may take to be stored and ended.
STOP_WRITE_SECONDS = 5.0
STOP_POLL_SECONDS = 0.1


def _stop(task: asyncio.Task) -> None:
    """Cancel a job's task, once: a stop while it ends its answer after an earlier one (an
    escalation and then the takeover of the agent it was assigned to, a takeover and then a
    close) cancelled that ending, and the player's answer never ended, its row `streaming`."""
    if not task.cancelling():
        task.cancel()


def _failed(future: asyncio.Future) -> bool:
    return future.done() and not future.cancelled() and future.exception() is not None


# channels_redis forgets group members after a day (group_expiry); a holder that old joins again.
REJOIN_SECONDS = 6 * 3600

registry = per_loop(JobRegistry)


class AnswerClaim:
    """A conversation's next answer in this process, from before its row exists until it streams.

    The call that creates the answer's row runs in a helper process, and a cancelled
    caller doesn't stop a started call: cancelling the job's task then would leave the
    row `streaming` with nobody to finish it. So while a claim is registered a
    cancellation (a takeover, a close, the process stopping) is recorded on it, and the
    job finishes the row as interrupted (failed, when stopping) instead of streaming.
    A question arriving meanwhile waits for the claimed answer, as for a running job.
    """

    def __init__(self, reg: JobRegistry, conversation_id: int) -> None:
        self.reg = reg
        self.conversation_id = conversation_id
        self.cancelled = False
        self.launched = False  # its job has been started: the job releases it
        self.at = time.monotonic()  # the answer's times (TTFT, duration) count from here
        reg.claims[conversation_id] = self

    def release(self) -> None:
        if self.reg.claims.get(self.conversation_id) is self:
            del self.reg.claims[self.conversation_id]


@contextlib.contextmanager
def answer_claim(conversation_id: int) -> Iterator[AnswerClaim | None]:
    """Claim the conversation's next answer before its question is stored, so that the
    question's helper call also starts the answer (`_receive_and_start`); None when an
    answer of the conversation is starting or streaming here (the question waits for it).
    Released on the way out unless `start_answer` launched it."""
    reg = registry()
    claim = None if reg.busy(conversation_id) else AnswerClaim(reg, conversation_id)
    try:
        yield claim
    finally:
        if claim is not None and not claim.launched:
            claim.release()
            if conversation_id in reg.pending and not reg.busy(conversation_id):
                # A question from another tab waited for this claim, which started nothing
                # (a resend, a request for a human): it is answered now.
                reg.pending.discard(conversation_id)
                start_answer(conversation_id, None)


def start_answer(
    conversation_id: int,
    reply_to_id: int | None,
    *,
    claim: AnswerClaim | None = None,
    start: AnswerStart | None = None,
) -> None:
    """Answer the conversation's newest player message: the answer its question's call
    started (`start`, under `claim`), else now, or after the job running here.
    `reply_to_id` None: the newest question, if the bot still has the chat."""
    reg = registry()
    if claim is not None and (start is None or claim.conversation_id != conversation_id):
        claim.release()
        claim, start = None, None
    if claim is None and reg.busy(conversation_id):
        reg.pending.add(conversation_id)
        return
    if claim is not None:
        claim.launched = True
    task = asyncio.create_task(
        _run_jobs(reg, conversation_id, reply_to_id, claim, start), name=f"answer-{conversation_id}"
    )
    task.add_done_callback(_log_crash)
    reg.tasks[conversation_id] = task


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("answer job %s crashed", task.get_name(), exc_info=task.exception())


async def _run_jobs(
    reg: JobRegistry,
    conversation_id: int,
    reply_to_id: int | None,
    claim: AnswerClaim | None,
    start: AnswerStart | None,
) -> None:
    try:
        await reg.hold(conversation_id)  # usually held already by the player's socket: no round trip
    except BaseException:
        if claim is not None:
            claim.release()
        reg.tasks.pop(conversation_id, None)
        raise
    try:
        while True:
            # Every answer holds the conversation's answer claim while it streams: questions
            # stored meanwhile, on any process, started none and wait for its end.
            apart = start is None
            if apart:
                if reply_to_id is None:  # questions that waited: the newest is answered
                    if await _state(conversation_id=conversation_id) != Conversation.State.BOT:
                        break  # a human has it now (or the bot escalated): no more answers
                    reply_to_id = await _latest_player_message(conversation_id)
                if reg.cutting_off:
                    # The grace period is over and no answer starts now. A question still waiting
                    # (here, or stored on another process while this one's claim streamed) goes
                    # to staff; after an answer that was the last word, nothing does.
                    if await _unanswered(conversation_id, reply_to_id):
                        await _unanswered_to_staff(conversation_id)
                    break
                claim = AnswerClaim(reg, conversation_id)
                start = await _start(conversation_id, reply_to_id)
                if start is None:  # answered, passed by a newer question, or another claim's
                    claim.release()
                    claim = None
                    if conversation_id in reg.pending:
                        # A question stored while this looked (its socket saw this job busy
                        # and left it to this job): looked up again, or it waits for good.
                        reg.pending.discard(conversation_id)
                        reply_to_id = None
                        continue
                    break
            job = AnswerJob(conversation_id, reply_to_id, claim, start)
            try:
                await job.run()
            except asyncio.CancelledError:
                # A takeover or a close stopped the answer, whose end is stored. Had a question
                # waited for it, or come here meanwhile, the chat may be the bot's again: a
                # hand-back while the stopped answer ended started nothing beside it (its claim
                # was still held, on any process; here, the hand-back's question waits in
                # `pending`), and nothing else looked for that question again. The state decides.
                if not (job.asked_since or conversation_id in reg.pending):
                    raise
                asyncio.current_task().uncancel()
            reg.ending.discard(conversation_id)
            claim, start = None, None
            # Its end released the claim and said whether a question came meanwhile (from
            # another process too: it started no answer). Answered now, the newest, one at a time.
            if conversation_id not in reg.pending and job.asked_since is False:
                break
            reg.pending.discard(conversation_id)
            reply_to_id = None
    except asyncio.CancelledError:
        if not (reg.cutting_off and claim is None and start is None):
            raise
        # The grace period ended as the job looked up the question that waited (the stop cancels
        # a job between answers): that question is handed to staff all the same.
        asyncio.current_task().uncancel()
        await _unanswered_to_staff(conversation_id)
    finally:
        if claim is not None:
            claim.release()
        reg.ending.discard(conversation_id)
        reg.tasks.pop(conversation_id, None)
        reg.release(conversation_id)


async def _unanswered_to_staff(conversation_id: int) -> None:
    """The process is stopping and its grace period is over, with a question of the chat still
    waiting behind the answer before it: the chat goes to staff's queue, as after a failed answer.

    Dropped, the question stayed unanswered for good: the chat was still the bot's, and no other
    process answers a question this one stored. Queued, the player reads that a person will reply
    and staff see it. Nothing changes when the chat is no longer the bot's (the answer before it
    failed and queued it already, or a person took it).
    """
    try:
        if await staff_notify.escalate(
            conversation_id, failure_reason(UNANSWERED), from_answer_job=True, error=UNANSWERED
        ):
            log.warning("stopping: chat #%s had a question waiting for an answer: passed to staff", conversation_id)
    except Exception:  # the database may be away: the process exits anyway
        log.exception("stopping: could not pass chat #%s's waiting question to staff", conversation_id)


@db_pool
def _unanswered(conversation_id: int, question_id: int | None) -> bool:
    return question_id is not None and not services.answered_or_passed(conversation_id, question_id)


@db_pool
def _latest_player_message(conversation_id: int) -> int:
    return (
        Message.objects.filter(conversation_id=conversation_id, sender=Message.Sender.PLAYER)
        .order_by("-seq")
        .values_list("pk", flat=True)
        .first()
    )


async def cancel_answer(conversation_id: int, *, here: bool = True) -> None:
    """Stop the conversation's answer job, in whichever process runs it.

    Call after the state change is committed; the job also re-checks the state
    before each upstream call, so a takeover during a retry is not missed.
    `here` False: not this process's job (the caller is that job, escalating as
    its answer ends), only those of the other processes.
    """
    # A job here stops now, before the caller tells the player: the group's message goes
    # through Redis even to this process, and the notice reaches the player's sockets here
    # directly, so the bot streamed on after "Alice has joined the chat." for that round
    # trip. The message comes back here too, and is skipped by its `from`.
    reg = registry()
    if here:
        reg.cancel_local(conversation_id)
    event = {"type": "answer.cancel", "conversation_id": conversation_id, "from": reg._control_channel}
    await get_channel_layer().group_send(jobs_group(conversation_id), event)


STOPPED = "stopped: the web process shut down while the answer streamed"
UNANSWERED = "stopped: the web process shut down before the question was answered"


class AnswerStart(NamedTuple):
    """What creating an answer in a helper returns to its job."""

    message: Message  # the row, `streaming`
    state: str  # the conversation's, when the row was stored
    steps: object  # prepare.all_steps(), or _PipelineFailed


@dataclass
class _PipelineFailed:
    error: Exception
    language: str  # the conversation's: the player is told in it


def _start_and_prepare(conversation_id: int, reply_to_id: int | None) -> AnswerStart | None:
    """In a helper process: the answer's row, then the pipeline's steps 1-5, in one call;
    None when the bot is not to answer that question (services.answer_start_apart).

    One call instead of two because under load every hop costs CPU and a place in
    the pool's queue (docs/benchmarks-history.md, "The fourth round"); a helper process,
    not a thread, so that it never takes the GIL from the streams (csbot/helper_pool.py).
    """
    started = services.answer_start_apart(conversation_id=conversation_id, reply_to_id=reply_to_id)
    if started is None:
        return None
    message, state = started
    return AnswerStart(message, state, _prepare(conversation_id, message))


def _prepare(conversation_id: int, message: Message, known: dict | None = None) -> object:
    """The pipeline's steps 1-5 for an answer whose row exists: prepare.all_steps().

    Their failure is returned, not raised: the row exists, and the job must finish it.
    """
    try:
        return prepare.all_steps(conversation_id, known)
    except Exception as exc:
        log.exception("answer %s: the pipeline failed before the provider", message.pk)
        language = Conversation.objects.filter(pk=conversation_id).values_list("language", flat=True).first()
        return _PipelineFailed(exc, language or "")


def _receive_and_start(*, start: bool, **receive) -> tuple[services.Received, AnswerStart | None]:
    """In a helper process: store a player's message and, when `start` (this process has
    claimed the answer: answer_claim), its answer's row in the same transaction, then
    prepare the answer, all in one call.

    Two calls (the question, then its answer) waited twice for a helper: at 100 new
    questions a second, when the helpers fell behind, a question's second wait grew from
    4 to 188 ms (docs/benchmarks-history.md, "The eleventh round"). One transaction instead of
    two saved four statements (the fourteenth round).
    """
    # A request for a human goes to staff, not to the bot (the consumer escalates it).
    asks_for_person = wants_human(receive["text"])
    received = services.player_message_receive(**receive, with_answer=start and not asks_for_person)
    if asks_for_person and received.created and received.answer:
        # Still read for staff: the agent who picks it up sees the mood, intent and facts.
        # Here, before the consumer's escalation, so its case panel already has them.
        _understand_for_staff(received.conversation_id)
    elif received.created and received.state in (Conversation.State.HUMAN, Conversation.State.WAITING):
        # No answer reads it: the case panel kept the mood and facts of before the handoff,
        # "calm" beside a player now furious, the order number they gave the agent unseen.
        # Here, before the message is published: the dashboard that asks on seeing it finds them.
        _understand_for_staff(received.conversation_id)
    if received.reply is None:
        return received, None
    player = receive["player"]
    # The context's conversation row: the columns the question's UPDATE returned, and the player's.
    known = {**received.conversation, "game_player_id": player.game_player_id, "public_id": player.public_id}
    steps = _prepare(received.conversation_id, received.reply, known)
    return received, AnswerStart(received.reply, received.state, steps)


def _understand_for_staff(conversation_id: int) -> None:
    """The pipeline's understanding without an answer; a failure only costs staff the panel."""
    try:
        prepare.understanding_only(conversation_id)
    except Exception:
        log.exception("conversation %s: reading a request for a person failed", conversation_id)


_start = helper_pool(_start_and_prepare, priority=2)
receive_and_start = helper_pool(_receive_and_start, priority=2)


def _answer_write(fn, *, priority: int):
    """Where an answer's own writes run: the helpers on PostgreSQL, this process's threads on SQLite.

    In a thread each write takes the GIL from the loop relaying every other answer: on
    PostgreSQL the helpers took 2 of this process's 12.6 ms of CPU per answer and, with
    1,000 chats, its chunk p99 went from 51-207 to 19-21 ms. On SQLite, whose writers take
    turns across processes (csbot/sqlite/base.py), a helper waiting for its turn can't take
    a question meanwhile, and first tokens came later (p95 40 -> 61-68 ms at 300 chats):
    docs/benchmarks-history.md, "The tenth round".
    """
    if settings.DATABASES["default"]["ENGINE"] == "csbot.sqlite":
        return db_pool(fn)
    return helper_pool(fn, priority=priority)


# A checkpoint can wait behind everything: it only updates rows still streaming. Finishing
# waits with the questions' calls, in order: the player's `end` waits for it.
_checkpoint = _answer_write(services.bot_message_checkpoint, priority=0)
_finish = _answer_write(services.bot_message_finish, priority=2)
_state = db_pool(selectors.conversation_state)
_failed_by_sweep = db_pool(services.answer_failed_by_sweep)
_flag = db_pool(services.message_flag_unsafe)
_model_busy = db_pool(services.bot_message_model_busy)


class AnswerJob:
    def __init__(self, conversation_id: int, reply_to_id: int, claim: AnswerClaim, start: AnswerStart) -> None:
        self.conversation_id = conversation_id
        self.reply_to_id = reply_to_id
        self.claim = claim
        self.start = start
        self.parts: list[str] = []
        self.length = 0
        self.sources: list[dict] = []
        self.meta: dict = {}
        self.ttft_ms: int | None = None
        self.usage = Finish()
        self._checkpoint_task: asyncio.Task | None = None
        self.prepared = None
        self.state_at_start: str | None = None
        self.told_busy = False
        self._busy_over: asyncio.Task | None = None
        # A question waited for this answer, on any process (services.Finished); None: not known.
        self.asked_since: bool | None = None

    def _checkpoint_later(self) -> None:
        """Save the text so far without holding up the stream (one write in flight at most).

        A checkpoint that lands after the final write changes nothing: it only
        updates rows still `streaming`.
        """
        if self._checkpoint_task is None or self._checkpoint_task.done():
            text = "".join(self.parts)
            self._checkpoint_task = asyncio.create_task(_checkpoint(message_id=self.message_id, text=text))

    async def run(self) -> None:
        started = self.claim.at
        buffer = get_buffer()
        message, self.state_at_start, steps = self.start
        self.message_id = message.pk
        # The player's, for a notice even before the stream (a process stopping meanwhile).
        self.language = (steps.language if isinstance(steps, _PipelineFailed) else steps.context.language) or "en"
        # What _emit runs before a delta leaves the process; made once, not per delta.
        self._flush_buffer = functools.partial(buffer.flush, message.pk)
        try:
            await buffer.start(message.pk)
            await publish(self.conversation_id, message_frame(message))
        finally:
            # From here a cancellation cancels this task (the row is in the job's hands).
            self.claim.release()
        status, error, player_error = Message.Status.DONE, "", ""
        # The deadline is what lets any process tell an orphaned `streaming` row from a
        # live one (chat/streaming/lifecycle.py).
        deadline = asyncio.timeout(settings.ANSWER_MAX_SECONDS)
        try:
            if self.claim.cancelled:  # while the row was being created
                # Raised here, not by task.cancel(): only `ending` keeps a second stop off it.
                registry().ending.add(self.conversation_id)
                raise asyncio.CancelledError()
            async with deadline:
                await self._flag_unsafe_question(self._stream(buffer, started, steps))
        except asyncio.CancelledError:
            if not registry().cutting_off:  # a person took over, or the chat was closed
                await self._finalize(buffer, started, Message.Status.INTERRUPTED)
                raise
            # The process stopped and its grace period is over: the answer fails like any other
            # (below), and the chat goes to staff's queue. The job goes on to store and tell it,
            # so the cancellation is spent here.
            asyncio.current_task().uncancel()
            registry().cut_off.add(self.conversation_id)
            status, error, player_error = Message.Status.FAILED, STOPPED, self._player_error()
            log.warning("answer %s in chat #%s failed: %s", self.message_id, self.conversation_id, error)
        except TimeoutError as exc:
            if deadline.expired():
                error = f"timeout: still streaming after {settings.ANSWER_MAX_SECONDS:g} s"
            else:  # some other wait inside ran out: a bug, as below
                error = f"internal error: {exc.__class__.__name__}"
            status, player_error = Message.Status.FAILED, self._player_error()
            log.warning("answer %s in chat #%s failed: %s", self.message_id, self.conversation_id, error)
        except HumanTookOver:
            status = Message.Status.INTERRUPTED
        except SafetyBlocked:  # the player's question is marked already (_flag_unsafe_question)
            status, error = Message.Status.DONE, "need_clear_history"
            self._replace_with_notice()
        except ProviderError as exc:
            status, error = Message.Status.FAILED, str(exc)
            player_error = self._player_error()
            log.warning("answer %s in chat #%s failed: %s", self.message_id, self.conversation_id, exc)
        except Exception as exc:  # a bug must still leave a finished, visible answer
            log.exception("answer %s in chat #%s crashed", self.message_id, self.conversation_id)
            status, error = Message.Status.FAILED, f"internal error: {exc.__class__.__name__}"
            player_error = self._player_error()
        # The answer is over: a stop now (a takeover as it ends, or the one an escalation in
        # after_answer assigns) must not cut short its ending or what the player is told next.
        registry().ending.add(self.conversation_id)
        if status == Message.Status.FAILED:
            await self._fail_to_staff(buffer, started, error=error)
            return
        stored = await self._finalize(buffer, started, status, error=error, player_error=player_error)
        if stored and status != Message.Status.INTERRUPTED:
            # Escalates on an upstream failure, repeated "I don't know", anger; updates dashboards.
            # The answer before this one, as the pipeline read it: a broken "don't know" streak needs no query.
            previous = self.prepared.context.last_bot if self.prepared is not None else None
            await staff_notify.after_answer(
                self.conversation_id,
                status=status,
                error=error,
                answer_meta=self.meta,
                previous=previous,
                language=self.language,
            )

    async def _fail_to_staff(self, buffer, started: float, *, error: str) -> None:
        """A failed answer puts the chat in staff's queue; the player reads which it is.

        Queued first, announced after the answer's end: "try again or ask for a human" above
        "No support agent is online right now. Leave a message" told the player two things,
        and a question asked again went to the queue unanswered. The queue's note follows.
        """
        try:
            # The queue's line in the notice's language, the answer's: the player reads them together.
            queued = await staff_notify.queue_failed_answer(self.conversation_id, error=error, language=self.language)
        except Exception:  # the database may be away: the answer must still end, "try again" true
            log.exception("could not queue chat #%s after its answer failed", self.conversation_id)
            queued = None
        stored = await self._finalize(
            buffer, started, Message.Status.FAILED, error=error, player_error=self._player_error(queued=bool(queued))
        )
        try:
            if queued is not None:
                # Even when another process's sweep failed the answer first (not `stored`): it said
                # so, and its own escalation finds the chat queued already.
                await staff_notify.announce(queued)
            elif stored:
                await staff_notify.row_changed(self.conversation_id)
        except Exception:  # the answer is stored and shown; never fail the job over this
            log.exception("telling staff of chat #%s's failed answer failed", self.conversation_id)

    async def _flag_unsafe_question(self, stream) -> None:
        """Run the stream; when the upstream flags the player's input, mark it before re-raising.

        Marked here, inside the handling of a stop: marked in the SafetyBlocked handler, a
        takeover or a close landing during the write escaped it, and the row stayed
        `streaming`, with no `end` for the player, until the sweep for orphans.
        """
        try:
            await stream
        except SafetyBlocked as blocked:
            # ban_round -1 is this question. Another names an earlier round, of the history as
            # the request sent it: left in, it would have every next question refused as well,
            # so the history goes (what Baidu advises: clear the session's history).
            note = await _flag(message_id=self.reply_to_id, with_earlier=blocked.ban_round != -1)
            await publish(self.conversation_id, message_frame(note), internal=True)
            raise

    async def _stream(self, buffer, started: float, steps) -> None:
        if isinstance(steps, _PipelineFailed):
            raise steps.error
        prepared = await prepare.completed(steps)
        self.prepared = prepared
        # Only an answer the provider writes from the passages cites them: the bot's own words
        # ("I won't repeat it", "I'm the automated assistant") quote none of what the search found.
        self.sources = prepared.sources if prepared.request is not None else []
        self.language = prepared.context.language
        self.meta = {
            **prepared.meta,
            "timings_ms": prepared.timings_ms,
            "provider": settings.LLM_PROVIDER if prepared.request else "bot",
            **postprocess.offers(prepared.reply, message_id=self.message_id, intent=prepared.meta["intent"]["name"]),
        }
        if prepared.request is not None and prepared.reply.kind != "tool":
            # Only answers built on the knowledge base have (possibly no) sources; see chat/handoff.py,
            # where none means "I don't know". The model explaining the player's own record (a tool's)
            # quotes no article, and two such answers in a row queued the chat as a streak of them.
            self.meta["sources"] = self.sources
        last_checkpoint = stream_started = time.monotonic()
        stream = answer_stream(prepared.reply, before_attempt=self._check_still_bot, on_wait=self._tell_busy)
        async for item in stream:
            if isinstance(item, Finish):
                self.usage = item
                continue
            if not item.text:
                continue
            if self.ttft_ms is None:
                self.ttft_ms = int((time.monotonic() - started) * 1000)
                if self.told_busy:  # not awaited: the first words go out now
                    self._busy_over = asyncio.create_task(self._store_busy(False))
            await self._emit(buffer, item)
            if time.monotonic() - last_checkpoint >= settings.ANSWER_CHECKPOINT_SECONDS:
                last_checkpoint = time.monotonic()
                self._checkpoint_later()
        self.meta["timings_ms"]["stream"] = round((time.monotonic() - stream_started) * 1000, 2)
        if prepared.reply.knowledge_gap:
            post_started = time.monotonic()
            await postprocess.record_gap(prepared.context)
            self.meta["timings_ms"]["postprocess"] = round((time.monotonic() - post_started) * 1000, 2)

    async def _emit(self, buffer, delta: Delta) -> None:
        offset = self.length
        self.parts.append(delta.text)
        self.length += len(delta.text)
        # The buffer first: it only records the delta in this process (Redis gets it from
        # the buffer's own task, every ANSWER_BUFFER_FLUSH_SECONDS), so a resume here never
        # misses text that a socket here already got.
        await buffer.append(self.message_id, delta.text)
        # Then the sockets. A delta that goes to another process is flushed to the buffer's
        # Redis copy just before (before_relay): a resume there then never reads less than
        # it was sent. Nobody elsewhere (the usual case): no Redis but the interval's flush.
        await publish_delta(
            self.conversation_id,
            dumps(delta_frame(self.message_id, offset, delta.text)),
            before_relay=self._flush_buffer,
        )

    async def _check_still_bot(self) -> None:
        """Before each upstream attempt: has a human taken the chat?

        Before the first one the state read when the answer was stored is enough:
        this process was in the conversation's jobs group by then, so a takeover
        after it arrives as a cancellation (see _run_jobs).
        """
        if self.state_at_start is not None:
            state, self.state_at_start = self.state_at_start, None
        else:
            state = await _state(conversation_id=self.conversation_id)
        if state != Conversation.State.BOT:
            raise HumanTookOver()

    async def _tell_busy(self, error: ProviderError, seconds: float) -> None:
        """The provider's rate limit holds the answer back (agents/providers/retry.py waits it
        out for up to LLM_RATE_LIMIT_WAIT): the player, looking at the typing dots, is told once
        that the answer is coming, not left to think the bot has hung."""
        if error.rate_limited and not self.told_busy:
            self.told_busy = True
            await self._store_busy(True)
            await publish(self.conversation_id, {"type": "busy", "id": self.message_id})

    async def _store_busy(self, busy: bool) -> None:
        """The wait on the answer's row, for a dashboard that opens the chat or loads its list
        meanwhile, and on every dashboard's row of the chat; its first text clears it."""
        try:
            await _model_busy(message_id=self.message_id, busy=busy)
            await staff_notify.row_changed(self.conversation_id)
        except Exception:  # the database may be away: the answer goes on all the same
            log.exception("could not store whether answer %s waits for the model", self.message_id)

    def _replace_with_notice(self) -> None:
        """The upstream flagged the player's input: show a canned reply instead."""
        with translation.override(getattr(self, "language", "en")):
            notice = _("Sorry, I can't help with that request. Let's talk about something else about the game.")
        self.parts, self.length = [notice], len(notice)
        self.sources = []
        self.meta["sources"] = []

    def _player_error(self, *, queued: bool = False) -> str:
        language = getattr(self, "language", "en")
        return services.answer_failure_notice(language=language, partial=bool(self.parts), queued=queued)

    async def _store_end(self, **end) -> services.Finished:
        """Store the answer's end, again and again while the database refuses it (a lost
        connection, a failover, a helper killed mid-call), until it is stored or the sweep
        failed the answer.

        Given up at the first error, the answer's row stayed `streaming` and its chat's answer
        claim held until the sweep's deadline (ANSWER_MAX_SECONDS + ORPHAN_MARGIN_SECONDS, ~7
        minutes): the player's answer never ended, and a question from their other tab that
        waited for it went to staff unanswered. The claim is released only by the statement that
        stores the end, so never while the answer streams; stored late, the player reads the end
        then and the question that waited is answered. Retried until the sweep takes the answer
        (it fails it once that deadline passes, and the retry then stores nothing), or the
        process stops (its answer left to the sweep, as any it cannot finish).
        """
        failures = RepeatedFailure(log, f"storing the end of answer {self.message_id}")
        delays = iter(END_RETRY_DELAYS)
        while True:
            try:
                finished = await _finish(**end)
            except Exception:  # the database, or the helper running the write
                failures.failed()
                await asyncio.sleep(next(delays, END_RETRY_DELAYS[-1]))
                continue
            if failures.failing and not finished.stored and not await _failed_by_sweep(message_id=self.message_id):
                # The attempt that raised had stored it (the connection was lost after its
                # commit): the end is this job's to publish; whether a question waited is not known.
                finished = services.Finished(stored=True, asked_since=None)
            if failures.failing and finished.stored:
                log.warning("answer %s: its end was stored after the database refused it", self.message_id)
            return finished

    async def _finalize(self, buffer, started: float, status: str, *, error: str = "", player_error: str = "") -> bool:
        """Store the answer's end and publish it; False when another process had failed it
        meanwhile (this one was silent too long: chat/streaming/heartbeat.py) and said so."""
        text = "".join(self.parts)
        if player_error:
            self.meta["player_error"] = player_error
        if not text and self.sources:
            # An answer that failed or was stopped before its first word quotes nothing: a list
            # of sources under "the assistant is unavailable" would cite articles nobody read.
            self.sources = self.meta["sources"] = []
        elif self.sources:
            self.sources = self.meta["sources"] = postprocess.cited_sources(text, self.sources)
        finished = await self._store_end(
            message_id=self.message_id,
            text=text,
            status=status,
            error=error,
            ttft_ms=self.ttft_ms,
            duration_ms=int((time.monotonic() - started) * 1000),
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
            meta=self.meta,
        )
        self.asked_since = finished.asked_since
        await buffer.finish(self.message_id)
        if not finished.stored:
            log.warning("answer %s was failed by another process's sweep before it ended here", self.message_id)
            return False
        if error == "need_clear_history":
            # Whatever streamed before the flag must not stay on screen.
            await publish(self.conversation_id, {"type": "replace", "id": self.message_id, "text": text})
        await publish(
            self.conversation_id,
            # `n`: a client on another process may have resumed from a buffer that was behind;
            # with no delta after it, only the final length shows it the text it lacks.
            end_frame(self.message_id, status, length=len(text), sources=self.sources, error=player_error),
        )
        if status == Message.Status.DONE and not error:
            # Quick replies and an inline form under the answer (agents/pipeline/postprocess.py).
            for frame in postprocess.frames(self.message_id, self.meta):
                await publish(self.conversation_id, frame)
        return True
