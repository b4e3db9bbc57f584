"""One answer's (and a socket connect's) writes and reads through csbot/fastsql.py,
for SQLite (in the test process) and PostgreSQL (in a `manage.py shell` on the
production settings)."""

from __future__ import annotations

import json


def run() -> dict:
    from agents.pipeline.context import context_for_conversation
    from agents.services import understanding_save
    from chat import services
    from chat.models import Conversation, Message, Player

    player = Player.objects.create(display_name="Fast")
    conversation = Conversation.objects.create(player=player, language="en", facts={"server": "S3"})
    asked = services.message_append(
        conversation_id=conversation.pk, sender="player", text="Where is my top-up?", meta={"client": "web"}
    )
    services.internal_event_record(conversation_id=conversation.pk, text="staff only", code="note")
    answer, _ = services.bot_message_start(conversation_id=conversation.pk, reply_to_id=asked.pk)
    services.bot_message_checkpoint(message_id=answer.pk, text="Check the")
    checkpointed = Message.objects.get(pk=answer.pk).text
    services.bot_message_finish(
        message_id=answer.pk,
        text="Check the order page, 订单页面.",
        status="done",
        ttft_ms=120,
        duration_ms=900,
        prompt_tokens=10,
        completion_tokens=20,
        meta={"asked": ["order_no"], "sources": [{"n": 1, "title": "Top-ups"}]},
    )
    services.bot_message_checkpoint(message_id=answer.pk, text="Check")  # one that lands after the end
    understanding_save(
        conversation_id=conversation.pk,
        message_id=asked.pk,
        intent="recharge_not_arrived",
        facts={"server": "S3", "order_no": "SL1"},
        sentiment={"score": -0.2, "level": "calm", "escalate": False},
    )
    stored = Message.objects.get(pk=answer.pk)
    context = context_for_conversation(conversation.pk)
    # The next question, stored with its answer's row; its context from what that returned.
    received = services.player_message_receive(
        player=player, conversation_id=conversation.pk, client_id="c2", text="SL1", with_answer=True
    )
    known = {**received.conversation, "game_player_id": player.game_player_id, "public_id": player.public_id}
    next_context = context_for_conversation(conversation.pk, known=known)
    next_question = {
        "seqs": [received.message.seq, received.reply.seq],
        "reply": [received.reply.status, received.reply.reply_to_id == received.message.pk],
        "stored": list(Message.objects.filter(pk=received.reply.pk).values_list("sender", "status", "text").get()),
        "known": received.conversation,
        "same_context_as_read": vars(next_context) == vars(context_for_conversation(conversation.pk)),
    }
    # What a socket's connect reads and writes.
    open_before = services.conversation_current_state(player=player)
    seen = services.player_seen(player_id=player.pk)
    Conversation.objects.filter(pk=conversation.pk).update(state="closed")
    open_after = services.conversation_current_state(player=player)
    return {
        "connect": {
            "open_conversation_is_this_one": list(open_before) == [conversation.pk, "bot"],
            "after_a_close_a_new_one": open_after[0] != conversation.pk and open_after[1] == "bot",
            "seen_stored": Player.objects.get(pk=player.pk).last_seen_at == seen,
        },
        "answer": {
            "checkpointed": checkpointed,
            "text": stored.text,
            "status": stored.status,
            "numbers": [stored.ttft_ms, stored.duration_ms, stored.prompt_tokens, stored.completion_tokens],
            "meta": stored.meta,
            "finished": stored.finished_at is not None and stored.finished_at >= stored.created_at,
        },
        "asked_meta": Message.objects.get(pk=asked.pk).meta,
        "next_question": next_question,
        "conversation": list(Conversation.objects.filter(pk=conversation.pk).values_list("intent", "facts").get()),
        "context": {
            "history": [[m.role, m.content] for m in context.history],
            "user_id_is_public_id": context.user_id == str(player.public_id),
            "facts": context.facts,
            "message_meta": context.message_meta,
            "last_bot": context.last_bot,
            "asked": sorted(context.asked),
            "question": context.question,
        },
    }


def printed() -> None:
    print(json.dumps(run()))
