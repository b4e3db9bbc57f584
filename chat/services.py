"""Writes to conversations and messages. Consumers and views call these.

Every function here is synchronous and runs its writes in one transaction;
async callers wrap them with database_sync_to_async and publish events only
after the call returns, so no client ever sees a row that was rolled back.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat.identity import GamePlayer
from chat.models import Conversation, Message, Player
from csbot.fastsql import (
    column,
    get_by_pk,
    insert,
    insert_values,
    json_value,
    merge_json_by_pk,
    select_rows,
    stored,
    table,
    update_by_pk,
)
from csbot.runner import runner_name


def player_create_anonymous(*, language: str = "") -> Player:
    """Every new visitor's page: the INSERT is built once (csbot/fastsql.py)."""
    return insert(Player, language=language)


def player_from_game(*, game_player: GamePlayer) -> Player:
    player, created = Player.objects.get_or_create(
        game_player_id=game_player.pid, defaults={"display_name": game_player.name}
    )
    if not created and game_player.name and player.display_name != game_player.name:
        player.display_name = game_player.name
        player.save(update_fields=["display_name"])
    return player


def player_seen(*, player_id: int) -> datetime:
    """Every socket's connect and disconnect: built once (csbot/fastsql.py)."""
    now = timezone.now()
    update_by_pk(Player, player_id, last_seen_at=now)
    return now


@dataclass(frozen=True)
class Connected:
    """A player's socket as it opens: who, their open conversation, and when they came online."""

    player: Player
    conversation_id: int
    state: str
    seen_at: datetime
    # The chat closed lately, when the open one is still empty (selectors.conversation_closed_lately).
    previous: dict | None = None
    # Who holds the chat, when a human does: the player's page names them ("Chatting with Alice").
    agent_name: str = ""


def player_connect(*, player_id: int) -> Connected | None:
    """Every socket's connect, in one call: the player (None if they don't exist), their
    open conversation (a new one when all are closed) and their `last_seen_at`; while that
    conversation is empty, the chat that closed lately (what they missed, and its rating)."""
    from chat.selectors import conversation_closed_lately

    player = get_by_pk(Player, player_id)  # SQL built once (csbot/fastsql.py)
    if player is None:
        return None
    conversation_id, state, last_seq = _current(player)
    # Only while nothing is said in the new chat: a player away when staff closed theirs
    # comes back to it, not to an empty page. No query on the usual connect.
    previous = conversation_closed_lately(player_id=player.pk) if last_seq == 0 else None
    # Only for a chat a human holds: the usual connect (the bot's) costs no query.
    agent_name = _holder_name(conversation_id) if state == Conversation.State.HUMAN else ""
    return Connected(player, conversation_id, state, player_seen(player_id=player.pk), previous, agent_name)


def _holder_name(conversation_id: int) -> str:
    from chat.roles import display_name

    conversation = Conversation.objects.select_related("assignee").filter(pk=conversation_id).first()
    return display_name(conversation.assignee) if conversation else ""


def conversation_current(*, player: Player) -> Conversation:
    """The player's open conversation, or a new one when all are closed.

    A new player's first connect creates one: SQL built once (csbot/fastsql.py).
    """
    found = select_rows(_open_sql(connection.vendor), [player.pk, *Conversation.OPEN_STATES])
    conversation = get_by_pk(Conversation, found[0][0]) if found else None
    return conversation or insert(Conversation, player=player, language=player.language)


def conversation_current_state(*, player: Player) -> tuple[int, str]:
    """conversation_current's id and state: every socket's connect asks (SQL built once)."""
    return _current(player)[:2]


def _current(player: Player) -> tuple[int, str, int]:
    """conversation_current's id, state and last seq (0: nothing said in it yet)."""
    found = select_rows(_open_sql(connection.vendor), [player.pk, *Conversation.OPEN_STATES])
    if found:
        return found[0][0], found[0][1], found[0][2]
    conversation = conversation_current(player=player)  # none open (or closed meanwhile): a new one
    return conversation.pk, conversation.state, conversation.last_seq


@functools.cache
def _open_sql(vendor: str) -> str:
    c = table(Conversation)
    states = ", ".join(["%s"] * len(Conversation.OPEN_STATES))
    return (
        f"SELECT {column(Conversation, 'id')}, {column(Conversation, 'state')}, {column(Conversation, 'last_seq')} "
        f"FROM {c} "
        f"WHERE {column(Conversation, 'player')} = %s AND {column(Conversation, 'state')} IN ({states}) "
        f"ORDER BY {column(Conversation, 'created_at')} DESC LIMIT 1"
    )


def _allocate_seq(conversation_id: int, *, question: bool = False) -> tuple[int, str]:
    """The conversation's next seq, and its state then. Call inside a transaction.
    `question`: the seq is a player's message's (Conversation.last_question_seq).

    One statement, UPDATE ... RETURNING: the UPDATE holds the row lock until
    commit, so concurrent appends to one conversation queue behind each other
    (and behind a takeover or a close, which lock the same row). Seqs never
    repeat, and the state returned is the one the message is stored under.
    """
    # RETURNING came to SQLite (3.35) for INSERT and UPDATE at once; PostgreSQL always had it.
    returning = connection.features.can_return_columns_from_insert
    update, select = _seq_sql(connection.vendor, returning, question)
    row = _updated_row(update, [_updated_at_now(), conversation_id], select, conversation_id, returning=returning)
    if row is None:
        raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
    return row[0], row[1]


def _updated_at_now():
    """Conversation.updated_at's value for now, prepared for the database as the ORM would."""
    return Conversation._meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)


def _updated_row(update: str, params: list, select: str, conversation_id: int, *, returning: bool) -> tuple | None:
    """The conversation row an `UPDATE ... RETURNING` returned (None when it matched none).

    Without RETURNING (an older SQLite) the UPDATE runs bare and `select` reads the row
    back, still inside the caller's transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(update, params)
        if returning:
            return cursor.fetchone()
        if cursor.rowcount != 1:
            return None
        cursor.execute(select, [conversation_id])
        return cursor.fetchone()


@functools.cache
def _seq_sql(vendor: str, returning: bool, question: bool = False) -> tuple[str, str]:
    """_allocate_seq's UPDATE (with RETURNING when the database has it) and the SELECT for when it hasn't."""
    c = table(Conversation)
    pk, last_seq, updated_at, state = (column(Conversation, f) for f in ("id", "last_seq", "updated_at", "state"))
    asked = f"{column(Conversation, 'last_question_seq')} = {last_seq} + 1, " if question else ""
    update = f"UPDATE {c} SET {last_seq} = {last_seq} + 1, {asked}{updated_at} = %s WHERE {pk} = %s"
    select = f"SELECT {last_seq}, {state} FROM {c} WHERE {pk} = %s"
    return (f"{update} RETURNING {last_seq}, {state}" if returning else update), select


def _append(*, conversation_id: int, sender: str, text: str, **fields) -> tuple[Message, str]:
    """message_append, and the conversation's state when the message was stored."""
    with transaction.atomic():
        seq, state = _allocate_seq(conversation_id, question=sender == Message.Sender.PLAYER)
        # Every message is stored here: the INSERT is built once (csbot/fastsql.py).
        message = insert(Message, conversation_id=conversation_id, seq=seq, sender=sender, text=text, **fields)
    return message, state


def message_append(*, conversation_id: int, sender: str, text: str, **fields) -> Message:
    return _append(conversation_id=conversation_id, sender=sender, text=text, **fields)[0]


@dataclass(frozen=True)
class Received:
    conversation_id: int
    # The conversation's state when the message was stored.
    state: str
    message: Message
    created: bool
    # True when the bot should answer: a new message in a chat held by the bot.
    answer: bool
    # The bot's answer, stored `streaming` with the message (`with_answer`), or None.
    reply: Message | None = None
    # The conversation's language and facts as the message was stored, when `reply` is
    # set: the answer's context starts from them (agents/pipeline/context.py).
    conversation: dict | None = None
    # An answer was wanted, but another of the chat's answers holds the claim (streaming, on
    # this process or another): its job answers this question when it ends.
    waits: bool = False


def player_message_receive(
    *,
    player: Player,
    conversation_id: int,
    client_id: str,
    text: str,
    meta: dict | None = None,
    with_answer: bool = False,
) -> Received:
    """Store a player's message once per client id, in their open conversation.

    A resend of a stored client id returns the stored message. A message to a
    closed conversation opens a new one. `meta`: a quick reply's intent, a
    submitted form's values (agents/ reads them). `with_answer`: when the bot
    holds the chat, store its answer's row (`streaming`) in the same transaction.

    The usual case is one transaction of three statements: the conversation's
    UPDATE (the seqs, the resend check, the state, the context's columns), then
    the INSERTs; on PostgreSQL the three are one statement. Each statement was a
    round trip costing the helper and PostgreSQL about 0.3 ms of CPU, and the
    transaction's BEGIN and COMMIT two more (docs/benchmarks-history.md, "The fourteenth
    round").
    """
    fields = {"sender": Message.Sender.PLAYER, "text": text, "client_id": client_id, "meta": meta or {}}
    try:
        try:
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                # One statement: atomic by itself, no BEGIN and COMMIT round trips.
                return _store_question_in_one(player, conversation_id, fields, with_answer=with_answer)
            # The transaction rolls back on a duplicate; no savepoint of our own needed.
            with transaction.atomic():
                return _store_question(player, conversation_id, fields, with_answer=with_answer)
        except _NotStored:
            pass
        if select_rows(_resent_sql(connection.vendor), [player.pk, client_id]):  # a resend
            message = Message.objects.select_related("conversation").get(
                conversation__player=player, client_id=client_id
            )
            return Received(message.conversation_id, message.conversation.state, message, created=False, answer=False)
        # Closed since the socket opened: the player's open conversation, or a new one.
        conversation_id = conversation_current(player=player).pk
        message, state = _append(conversation_id=conversation_id, **fields)
    except IntegrityError:
        # Another socket stored the same client id a moment ago.
        message = Message.objects.select_related("conversation").get(
            conversation_id=conversation_id, client_id=client_id
        )
        return Received(conversation_id, message.conversation.state, message, created=False, answer=False)
    return Received(conversation_id, state, message, created=True, answer=state == Conversation.State.BOT)


class _NotStored(Exception):
    """The conversation is not the player's open one, or the client id is stored already."""


def _store_question(player: Player, conversation_id: int, fields: dict, *, with_answer: bool) -> Received:
    """player_message_receive's usual case. Call inside a transaction."""
    returning = connection.features.can_return_columns_from_insert
    update, select = _question_seq_sql(connection.vendor, returning)
    bot = Conversation.State.BOT
    params = _question_seq_params(player, conversation_id, fields["client_id"], with_answer=with_answer)
    row = _updated_row(update, params, select, conversation_id, returning=returning)
    if row is None:
        raise _NotStored()
    seq, state, language, facts, claimed = row
    answering = bool(claimed)  # the UPDATE took the chat's answer claim for this answer
    # Every message is stored here: the INSERTs are built once (csbot/fastsql.py).
    message = insert(Message, conversation_id=conversation_id, seq=seq - 1 if answering else seq, **fields)
    if not answering:
        waits = with_answer and state == bot
        return Received(conversation_id, state, message, created=True, answer=state == bot, waits=waits)
    reply = insert(Message, conversation_id=conversation_id, seq=seq, **_answer_fields(message.pk))
    conversation = {"language": language, "facts": json_value(facts)}
    return Received(conversation_id, state, message, True, True, reply=reply, conversation=conversation)


def _store_question_in_one(player: Player, conversation_id: int, fields: dict, *, with_answer: bool) -> Received:
    """_store_question as one PostgreSQL statement (data-modifying WITHs), in autocommit.

    Both rows' values are prepared as insert() prepares them; the seqs and the
    answer's reply_to come from the statement itself. A duplicate client id
    raises IntegrityError and stores nothing, like the transaction.
    """
    bot = Conversation.State.BOT
    question, q_names, q_params = insert_values(Message, conversation_id=conversation_id, seq=0, **fields)
    reply, r_names, r_params = insert_values(Message, conversation_id=conversation_id, seq=0, **_answer_fields(0))
    sql = _question_in_one_sql(q_names, r_names)
    params = _question_seq_params(player, conversation_id, fields["client_id"], with_answer=with_answer)
    params += [value for name, value in zip(q_names, q_params, strict=True) if name != "seq"]
    params += [value for name, value in zip(r_names, r_params, strict=True) if name not in ("seq", "reply_to_id")]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise _NotStored()
    seq, state, language, facts, _claimed, question_pk, reply_pk = row
    question.seq = seq - 1 if reply_pk is not None else seq
    stored(question, question_pk)
    if reply_pk is None:
        waits = with_answer and state == bot
        return Received(conversation_id, state, question, created=True, answer=state == bot, waits=waits)
    reply.seq, reply.reply_to_id = seq, question_pk
    conversation = {"language": language, "facts": json_value(facts)}
    return Received(
        conversation_id, state, question, True, True, reply=stored(reply, reply_pk), conversation=conversation
    )


@functools.cache
def _question_in_one_sql(q_names: tuple[str, ...], r_names: tuple[str, ...]) -> str:
    """The seqs' UPDATE, then the question's INSERT, then the answer's when the UPDATE took
    the chat's answer claim for it: each WITH reads the one before, so they run in order."""
    m, pk = table(Message), column(Message, "id")
    update, _ = _question_seq_sql("postgresql", True)
    by_attname = {f.attname: f for f in Message._meta.concrete_fields}

    def names(attnames: tuple[str, ...]) -> str:
        return ", ".join(connection.ops.quote_name(by_attname[a].column) for a in attnames)

    def values(attnames: tuple[str, ...], exprs: dict[str, str]) -> str:
        return ", ".join(exprs.get(a, "%s") for a in attnames)

    last_seq = column(Conversation, "last_seq")
    # The question's seq is the answer's less one when there is an answer.
    answers = "c.claimed"
    q_exprs = {"seq": f"c.{last_seq} - CASE WHEN {answers} THEN 1 ELSE 0 END"}
    r_exprs = {"seq": f"c.{last_seq}", "reply_to_id": f"q.{pk}"}
    return (
        f"WITH c AS ({update}), "
        f"q AS (INSERT INTO {m} ({names(q_names)}) SELECT {values(q_names, q_exprs)} FROM c RETURNING {pk}), "
        f"a AS (INSERT INTO {m} ({names(r_names)}) SELECT {values(r_names, r_exprs)} FROM c, q "
        f"WHERE {answers} RETURNING {pk}) "
        f"SELECT c.*, q.{pk}, a.{pk} FROM c CROSS JOIN q LEFT JOIN a ON true"
    )


def _question_seq_params(player: Player, conversation_id: int, client_id: str, *, with_answer: bool) -> list:
    """The parameters of _question_seq_sql's UPDATE, in order."""
    increment = 2 if with_answer else 1
    bot, closed = Conversation.State.BOT, Conversation.State.CLOSED
    seqs = [bot, increment, bot, with_answer, increment]
    return [*seqs, _updated_at_now(), conversation_id, player.pk, closed, player.pk, client_id]


@functools.cache
def _question_seq_sql(vendor: str, returning: bool) -> tuple[str, str]:
    """_store_question's UPDATE, and the SELECT for a database without RETURNING.

    One seq, or two when the bot is to answer (the question's and its answer's);
    only in the player's conversation, not closed (both under the row lock), and
    only if no conversation of theirs has the client id yet (the resend check; two
    tabs storing one client id at once are settled by the unique index).

    The answer, when there is one, takes the chat's answer claim in the same UPDATE (its seq,
    the new last_seq), under the row lock every message's store takes: a question stored at
    the same moment on another process, by another tab, sees it and starts no answer beside
    it; this answer's job answers that question when it ends (bot_message_finish). `claimed`
    is returned: only the answer that took the claim may be stored. No statement is added.
    """
    c, m = table(Conversation), table(Message)
    pk, last_seq, updated_at, state, player, language, facts, claim = (
        column(Conversation, f)
        for f in ("id", "last_seq", "updated_at", "state", "player", "language", "facts", "answer_claim")
    )
    asked = column(Conversation, "last_question_seq")
    free = _claim_free_sql()
    # SET reads the row as it was: the claim is the answer's seq, last_seq + the increment; the
    # question's is last_seq + 1 (what the answer holding the claim reads as it ends).
    update = (
        f"UPDATE {c} SET {last_seq} = {last_seq} + CASE WHEN {state} = %s AND {free} THEN %s ELSE 1 END, "
        f"{asked} = {last_seq} + 1, "
        f"{claim} = CASE WHEN {state} = %s AND {free} AND %s THEN {last_seq} + %s ELSE {claim} END, "
        f"{updated_at} = %s WHERE {pk} = %s AND {player} = %s AND {state} <> %s AND NOT EXISTS ("
        f"SELECT 1 FROM {m} JOIN {c} AS mine ON mine.{pk} = {m}.{column(Message, 'conversation')} "
        f"WHERE mine.{player} = %s AND {m}.{column(Message, 'client_id')} = %s)"
    )
    # RETURNING reads the row as it is now: the claim is this answer's only if it is the new last seq.
    columns = f"{last_seq}, {state}, {language}, {facts}, COALESCE({claim} = {last_seq}, false) AS claimed"
    select = f"SELECT {columns} FROM {c} WHERE {pk} = %s"
    return (f"{update} RETURNING {columns}" if returning else update), select


def _claim_free_sql() -> str:
    """True unless an answer of the chat streams (Conversation.answer_claim, the seq of the answer
    holding it): the question then starts no answer of its own, the claim's job answers it.

    Read in the conversation's UPDATE, so the claim is the one under the row lock: its holder
    releases it in the same row as it ends (bot_message_finish), so that is seen even when it
    committed while this statement waited for the lock. A holder that never ended (its process
    died: the sweep failed its row; chat/streaming/lifecycle.py) claims nothing either. On
    PostgreSQL that row is read in the statement's snapshot: one failed while this statement
    waited for the lock is not seen, and counts as streaming, never the other way round.
    """
    c, m = table(Conversation), table(Message)
    claim, status = column(Conversation, "answer_claim"), column(Message, "status")
    # Not `IS NULL`: in SQLite's (3.40) RETURNING it read false on a NULL. Seqs start at 1.
    return (
        f"(COALESCE({claim}, 0) = 0 OR EXISTS (SELECT 1 FROM {m} "
        f"WHERE {m}.{column(Message, 'conversation')} = {c}.{column(Conversation, 'id')} "
        f"AND {m}.{column(Message, 'seq')} = {claim} AND {m}.{status} <> '{Message.Status.STREAMING.value}'))"
    )


@functools.cache
def _resent_sql(vendor: str) -> str:
    """Is this client id stored already? Asked when _store_question stored nothing (csbot/fastsql.py)."""
    m, c = table(Message), table(Conversation)
    return (
        f"SELECT 1 FROM {m} JOIN {c} ON {c}.{column(Conversation, 'id')} = {m}.{column(Message, 'conversation')} "
        f"WHERE {c}.{column(Conversation, 'player')} = %s AND {m}.{column(Message, 'client_id')} = %s LIMIT 1"
    )


def internal_event_record(*, conversation_id: int, text: str, code: str) -> Message:
    """A note that staff see and players never do: rejected input, failures."""
    return message_append(
        conversation_id=conversation_id,
        sender=Message.Sender.SYSTEM,
        text=text,
        internal=True,
        meta={"event": code},
    )


def bot_message_start(*, conversation_id: int, reply_to_id: int | None) -> tuple[Message, str]:
    """The bot's answer, stored as `streaming`, and the conversation's state when it was stored."""
    return _append(conversation_id=conversation_id, **_answer_fields(reply_to_id))


class _NotStarted(Exception):
    """answer_start_apart found the question answered, passed or out of the bot's hands."""


def answer_start_apart(*, conversation_id: int, reply_to_id: int | None) -> tuple[Message, str] | None:
    """The bot's answer to a question stored earlier (a hand-back's unanswered one, or one that
    waited for the answer before it), stored `streaming` as the conversation's answer claim;
    None when the bot is not to answer it: the chat is not the bot's, the player has written
    since (that message has its own answer, or waits for the claim's), an answer to it or after
    it exists, or another claim streams (its job answers the newest question when it ends).

    A hand-back on one process and the player's next message on another came at once, and the
    chat got two answers streaming: the stale question's and the new one's. Settled under the
    conversation's row lock, which every message's store takes too: the question stored first
    is seen here, and one stored after sees this claim and starts nothing (_claim_free_sql).
    """
    try:
        with transaction.atomic():
            seq, state = _allocate_seq(conversation_id)  # the row lock, until commit
            if state != Conversation.State.BOT or answered_or_passed(conversation_id, reply_to_id):
                raise _NotStarted()
            message = insert(Message, conversation_id=conversation_id, seq=seq, **_answer_fields(reply_to_id))
            Conversation.objects.filter(pk=conversation_id).update(answer_claim=seq)
    except _NotStarted:
        return None  # rolled back: the seq taken is not used
    return message, state


def answered_or_passed(conversation_id: int, question_id: int | None) -> bool:
    """A message of the player or the bot after the question, or an answer claim still streaming.
    Call under the conversation's row lock to act on it (answer_start_apart); without, it is a look."""
    question_seq = Message.objects.filter(pk=question_id).values("seq")[:1]
    later = Message.objects.filter(
        conversation_id=conversation_id, seq__gt=question_seq, sender__in=(Message.Sender.PLAYER, Message.Sender.BOT)
    )
    claim = Conversation.objects.filter(pk=conversation_id).values("answer_claim")[:1]
    claiming = Message.objects.filter(conversation_id=conversation_id, seq=claim, status=Message.Status.STREAMING)
    return later.exists() or claiming.exists()


def _answer_fields(reply_to_id: int | None) -> dict:
    """A bot answer's row as it starts, whichever path stores it (this, or with its question).

    `runner`: the web process whose job will stream it (csbot/runner.py), the only one
    that may start it again if the call storing it died before the job began.
    """
    return {
        "sender": Message.Sender.BOT,
        "text": "",
        "status": Message.Status.STREAMING,
        "reply_to_id": reply_to_id,
        "meta": {"runner": runner_name()},
    }


def answer_left_streaming(*, question_id: int, runner: str) -> Message | None:
    """The bot's answer to this question if it is still `streaming` and was stored for
    `runner`'s job (chat/streaming/recovery.py decides whether that job ever started)."""
    streaming = Message.objects.filter(
        reply_to_id=question_id, sender=Message.Sender.BOT, status=Message.Status.STREAMING, meta__runner=runner
    )
    return streaming.order_by("-seq").first()


def bot_message_checkpoint(*, message_id: int, text: str) -> None:
    """Save the text so far, so that a crashed process loses little; never over a finished answer.

    Every few seconds of every answer: SQL built once (csbot/fastsql.py).
    """
    with connection.cursor() as cursor:
        cursor.execute(_checkpoint_sql(connection.vendor), [text, message_id, Message.Status.STREAMING])


@functools.cache
def _checkpoint_sql(vendor: str) -> str:
    text, pk, status = (column(Message, f) for f in ("text", "id", "status"))
    return f"UPDATE {table(Message)} SET {text} = %s WHERE {pk} = %s AND {status} = %s"


@dataclass(frozen=True)
class Finished:
    """What storing an answer's end found."""

    # False: it was no longer `streaming` (another process's sweep had failed it).
    stored: bool
    # Whether the player asked anything after the answer, while it held the chat's answer claim
    # (a question from another tab, or another process, waited for it; a line for staff stored
    # meanwhile is not a question); None when it did not hold the claim then: not known.
    asked_since: bool | None


def bot_message_finish(
    *,
    message_id: int,
    text: str,
    status: str,
    error: str = "",
    ttft_ms: int | None = None,
    duration_ms: int | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    meta: dict | None = None,
) -> Finished:
    """Store the answer's end and release the chat's answer claim if the answer holds it.

    Not stored when it was no longer `streaming`: another process's sweep failed it, having
    taken this process for dead (chat/streaming/lifecycle.py), and told the player so. That
    stays: the player must not see the answer end twice.

    The claim is released in the conversation's row, under its lock, by the same statement
    on PostgreSQL (no round trip added to the answer): a question stored before it waited
    for this answer (`asked_since`, read in the row's last_question_seq, so also one that
    committed while this waited for the lock; a note for staff, which takes a seq too, is no
    question); one stored after finds the claim free and is answered.
    """
    values = {
        "text": text,
        "status": status,
        "error": error[:300],
        "ttft_ms": ttft_ms,
        "duration_ms": duration_ms,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "meta": meta or {},
        "finished_at": timezone.now(),
    }
    streaming = {"status": Message.Status.STREAMING}
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        return _finish_and_release_sqlite(message_id, values)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic():
            if not update_by_pk(Message, message_id, only_if=streaming, **values):
                return Finished(stored=False, asked_since=None)
            conversation_id, seq = Message.objects.values_list("conversation_id", "seq").get(pk=message_id)
            claim = Conversation.objects.filter(pk=conversation_id, answer_claim=seq)
            if not claim.update(answer_claim=None):
                return Finished(stored=True, asked_since=None)
            asked = Conversation.objects.values_list("last_question_seq", flat=True).get(pk=conversation_id)
            return Finished(stored=True, asked_since=asked > seq)
    names, params = _end_params(message_id, values)
    with connection.cursor() as cursor:
        cursor.execute(_finish_and_release_sql(names), params)
        stored_count, asked_since = cursor.fetchone()
    return Finished(stored=stored_count == 1, asked_since=asked_since)


def _finish_and_release_sqlite(message_id: int, values: dict) -> Finished:
    """bot_message_finish on SQLite (the embedded default): two statements, each reading back
    what the ORM would ask for again (RETURNING), and no transaction around them: the ORM's
    way took six queries, the answer's end before the claim one.

    Apart is safe: once the answer is no longer `streaming` its claim holds nothing
    (_claim_free_sql), so a question stored between the two takes the claim for its own
    answer, the release below then matches no row, and `asked_since` is None (not known),
    which costs the job one look for a question that waited."""
    names, params = _end_params(message_id, values)
    with connection.cursor() as cursor:
        cursor.execute(_answer_end_sql(names), params)
        row = cursor.fetchone()
        if row is None:
            return Finished(stored=False, asked_since=None)
        conversation_id, seq = row
        cursor.execute(_claim_release_sql(), [conversation_id, seq])
        released = cursor.fetchone()
    return Finished(stored=True, asked_since=None if released is None else released[0] > seq)


def _end_params(message_id: int, values: dict) -> tuple[tuple[str, ...], list]:
    """The answer's end as _answer_end_sql takes it: its fields' names, then every parameter."""
    names = tuple(values)
    params = [Message._meta.get_field(name).get_db_prep_save(values[name], connection) for name in names]
    check = Message._meta.get_field("status").get_db_prep_save(Message.Status.STREAMING, connection)
    return names, [*params, message_id, check]


@functools.cache
def _answer_end_sql(names: tuple[str, ...]) -> str:
    """The answer's UPDATE, only while it is `streaming`, returning its conversation and seq
    (built once, csbot/fastsql.py). On SQLite a statement of its own, on PostgreSQL the first
    part of _finish_and_release_sql."""
    m, pk, status = table(Message), column(Message, "id"), column(Message, "status")
    sets = ", ".join(f"{column(Message, name)} = %s" for name in names)
    returning = f"{column(Message, 'conversation')}, {column(Message, 'seq')}"
    return f"UPDATE {m} SET {sets} WHERE {pk} = %s AND {status} = %s RETURNING {returning}"


@functools.cache
def _claim_release_sql() -> str:
    """SQLite's release of the chat's answer claim, if the answer (its seq) still holds it."""
    c, pk, claim = table(Conversation), column(Conversation, "id"), column(Conversation, "answer_claim")
    return (
        f"UPDATE {c} SET {claim} = NULL WHERE {pk} = %s AND {claim} = %s "
        f"RETURNING {column(Conversation, 'last_question_seq')}"
    )


@functools.cache
def _finish_and_release_sql(names: tuple[str, ...]) -> str:
    """bot_message_finish on PostgreSQL: the answer's UPDATE, then the claim's, as one statement
    (built once, csbot/fastsql.py): the second reads the first's RETURNING, so runs after it."""
    c, seq, conversation = table(Conversation), column(Message, "seq"), column(Message, "conversation")
    c_pk, claim, asked = (column(Conversation, f) for f in ("id", "answer_claim", "last_question_seq"))
    return (
        f"WITH m AS ({_answer_end_sql(names)}), "
        f"c AS (UPDATE {c} SET {claim} = NULL FROM m WHERE {c}.{c_pk} = m.{conversation} "
        f"AND {c}.{claim} = m.{seq} RETURNING {c}.{asked} > m.{seq} AS asked_since) "
        f"SELECT (SELECT count(*) FROM m), (SELECT asked_since FROM c)"
    )


def answer_failure_notice(*, language: str, partial: bool, queued: bool = False) -> str:
    """What the player reads under an answer that failed (`meta["player_error"]`).

    `queued`: the failure put the chat in staff's queue, whose note follows ("You are in the
    queue", "No support agent is online right now. Leave a message"); a question sent now
    waits for a person, so "try again" would be untrue.
    """
    with translation.override(language or "en"):
        if partial and queued:
            return _("The answer was cut off by a problem on our side, so we've passed your chat to our support team.")
        if queued:
            return _("Sorry, the assistant is unavailable right now, so we've passed your chat to our support team.")
        if partial:
            return _("The answer was cut off by a problem on our side. You can ask again or ask for a human.")
        return _("Sorry, the assistant is unavailable right now. Please try again or ask for a human.")


ORPHANED = "orphaned: the web process running the answer stopped before it finished"


def answers_orphaned(
    *,
    created_before: datetime,
    runners_alive: Iterable[str] | QuerySet | None = None,
    runner_started_before: datetime | None = None,
    sweeper: str = "",
) -> list[int]:
    """The bot's answers still `streaming` that were started before `created_before`, and
    those started before `runner_started_before` whose runner is not in `runners_alive`
    and is not `sweeper`, the process asking, which knows it is alive even when its own
    heartbeat could not be written (the database was away for a while).

    The caller knows that no job writes them any more (chat/streaming/lifecycle.py). An
    answer younger than its runner's first heartbeat can be, or stored before answers
    named their runner, is left to the first rule.
    """
    orphaned = Q(created_at__lt=created_before)
    if runners_alive is not None and runner_started_before is not None:
        silent = Q(runner__isnull=False) & ~Q(runner__in=runners_alive) & ~Q(runner=sweeper)
        orphaned |= Q(created_at__lt=runner_started_before) & silent
    streaming = Message.objects.filter(sender=Message.Sender.BOT, status=Message.Status.STREAMING)
    # Cast: a plain text, compared as text (KT's own lookups read a string on SQLite as JSON).
    streaming = streaming.annotate(runner=Cast(KT("meta__runner"), output_field=TextField()))
    return list(streaming.filter(orphaned).order_by("pk").values_list("pk", flat=True)[:500])


def answer_orphaned_fail(*, message_id: int, streamed_text: str | None = None, queued: bool = False) -> Message | None:
    """Fail an orphaned answer, keeping the longer of its last checkpoint and `streamed_text`
    (the answer buffer's copy, which is written more often); `queued`: the caller puts the
    chat in staff's queue next (answer_failure_notice).

    A conditional UPDATE claims the row: when several processes sweep at once, one fails
    it (and announces it); the others get None.
    """
    message = Message.objects.select_related("conversation", "reply_to").filter(pk=message_id).first()
    if message is None or message.status != Message.Status.STREAMING:
        return None
    if streamed_text and len(streamed_text) > len(message.text):
        message.text = streamed_text
    language = failed_answer_language(message)
    message.status, message.error, message.finished_at = Message.Status.FAILED, ORPHANED, timezone.now()
    notice = answer_failure_notice(language=language, partial=bool(message.text), queued=queued)
    message.meta = {**message.meta, "player_error": notice}
    claimed = Message.objects.filter(pk=message.pk, status=Message.Status.STREAMING).update(
        text=message.text,
        status=message.status,
        error=message.error,
        finished_at=message.finished_at,
        meta=message.meta,
    )
    return message if claimed else None


def answer_failed_by_sweep(*, message_id: int) -> bool:
    """Another process's sweep failed this answer (answer_orphaned_fail), not its own job."""
    return Message.objects.filter(pk=message_id, status=Message.Status.FAILED, error=ORPHANED).exists()


def failed_answer_language(message: Message) -> str:
    """The language of a failed answer's notice and of the queue's line under it: the answer's,
    the question's as the pipeline chose it (`message` with its conversation and reply_to)."""
    from agents.pipeline.context import detect_language

    question = message.reply_to.text if message.reply_to else ""
    return detect_language(question) if question.strip() else message.conversation.language


def bot_message_model_busy(*, message_id: int, busy: bool) -> None:
    """Say on the answer's row whether it waits out the LLM's rate limit (`meta.model_busy`).

    Stored, not only sent live: an agent who opened the chat, or reloaded the dashboard,
    in the middle of the wait saw a stalled answer with no reason. Read only while the
    answer is `streaming` without text (chat/frames.py, chat/staff_selectors.py); its
    end replaces the whole meta, so a finished answer never reads as waiting.
    """
    merge_json_by_pk(Message, message_id, "meta", {"model_busy": busy})


def message_flag_unsafe(*, message_id: int, with_earlier: bool = False) -> Message:
    """Keep a flagged player turn out of every future LLM request; `with_earlier`: every
    player turn of its conversation up to it too (the upstream flagged an earlier round).

    Staff are told in an internal note, returned: all they would see otherwise is the bot
    saying it can't help, as if it had judged the question itself.
    """
    flagged = Message.objects.get(pk=message_id)
    if with_earlier:
        earlier = Message.objects.filter(
            conversation_id=flagged.conversation_id, sender=Message.Sender.PLAYER, seq__lte=flagged.seq
        )
        pks = list(earlier.values_list("pk", flat=True))
        which = "an earlier message of this chat; the player's messages up to the last one are"
    else:
        pks = [message_id]
        which = "the player's last message; it is"
    for pk in pks:
        merge_json_by_pk(Message, pk, "meta", {"flagged": True})
    note = (
        f"The LLM's safety check flagged {which} left out of what the LLM is sent from now on. "
        "The player read that the bot can't help with that request."
    )
    return internal_event_record(conversation_id=flagged.conversation_id, text=note, code="flagged_by_llm")


class RatingRefused(Exception):
    """The conversation is not this player's, or is not closed yet."""


def conversation_rate(*, player: Player, conversation_id: int, score: int, comment: str = "") -> None:
    """The player's 1-5 rating of a closed conversation (CSAT); rating again replaces it."""
    from analytics.hooks import csat_record

    if not Conversation.objects.filter(pk=conversation_id, player=player, state=Conversation.State.CLOSED).exists():
        raise RatingRefused(conversation_id)
    csat_record(conversation_id=conversation_id, score=score, comment=comment)
