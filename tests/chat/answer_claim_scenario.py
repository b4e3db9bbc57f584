"""What an answer's end says of the questions that waited for it, for SQLite (in the test
process) and PostgreSQL (in a `manage.py shell` on the production settings): a line for staff
stored while the answer streamed is no question; a player's message, however stored, is."""

from __future__ import annotations

import json


def run() -> dict:
    from chat import services
    from chat.models import Conversation, Player

    def chat(name: str):
        """Lin's chat, with the answer to his first question streaming (it holds the claim)."""
        player = Player.objects.create(display_name=name, language="en")
        conversation = Conversation.objects.create(player=player, language="en")
        first = services.player_message_receive(
            player=player,
            conversation_id=conversation.pk,
            client_id="tab-1",
            text="How do I join a guild?",
            with_answer=True,
        )
        return player, conversation.pk, first.reply

    def end(answer) -> list:
        finished = services.bot_message_finish(message_id=answer.pk, text="Open the Guild tab.", status="done")
        return [finished.stored, finished.asked_since]

    said = {}
    _, conversation_id, answer = chat("Lin, a note for staff")
    services.internal_event_record(conversation_id=conversation_id, text="flagged by the LLM", code="note")
    said["a note for staff"] = end(answer)

    player, conversation_id, answer = chat("Lin, his other tab and a note")
    services.player_message_receive(
        player=player, conversation_id=conversation_id, client_id="tab-2", text="And leveling?", with_answer=True
    )
    services.internal_event_record(conversation_id=conversation_id, text="flagged by the LLM", code="note")
    said["his other tab's question, then a note"] = end(answer)

    _, conversation_id, answer = chat("Lin, a message appended")
    services.message_append(conversation_id=conversation_id, sender="player", text="hello?")
    said["a player's message appended"] = end(answer)
    return said


def printed() -> None:
    print(json.dumps(run()))
