"""What a (re)connecting client missed (design-notes §2, docs/protocol.md)."""

from __future__ import annotations

from agents.pipeline import postprocess
from chat import selectors
from chat.frames import delta_frame, dumps, message_frame, stored_end_frame
from chat.models import Message
from chat.streaming.buffer import get_buffer
from csbot.helper_pool import helper_pool


async def _current_text(message: Message) -> str:
    if message.status != Message.Status.STREAMING:
        return message.text
    # The row is only checkpointed now and then. The buffer has every delta when this
    # process streams the answer; read from another process it may be a little behind
    # (chat/streaming/buffer.py): the longer of the two, and the client resumes again
    # when a later delta or the `end`'s `n` shows it still lacks text.
    buffered = await get_buffer().get(message.pk)
    return message.text if buffered is None or len(buffered) < len(message.text) else buffered


# Every socket's connect resumes: its reads run in a helper process, as the connect's do
# (chat/consumers.py).
_load = helper_pool(selectors.messages_for_resume, priority=1)


async def frames_for(
    conversation_id: int, after_seq: int, streams: dict[int, int], *, include_internal: bool = False
) -> list[str]:
    missed, partial = await _load(
        conversation_id=conversation_id,
        after_seq=after_seq,
        stream_ids=list(streams),
        include_internal=include_internal,
    )
    out: list[str] = []
    newest = after_seq
    for message in missed:
        out.append(dumps(message_frame(message, text=await _current_text(message))))
        newest = max(newest, message.seq)
    for message in partial:
        if message.seq > after_seq:
            continue  # already sent whole above
        text = await _current_text(message)
        have = streams[message.pk]
        if message.error == "need_clear_history":
            # What the client has must go, not just be extended.
            out.append(dumps({"type": "replace", "id": message.pk, "text": text}))
        elif len(text) > have:
            out.append(dumps(delta_frame(message.pk, have, text[have:])))
        elif not text and message.status == Message.Status.STREAMING and message.meta.get("model_busy"):
            out.append(dumps({"type": "busy", "id": message.pk}))  # it began while the client was away
        if message.status != Message.Status.STREAMING:
            out.append(dumps(stored_end_frame(message, text)))
            if message.status == Message.Status.DONE:
                out.extend(dumps(frame) for frame in postprocess.frames(message.pk, message.meta))
    out.append(dumps({"type": "resumed", "seq": newest}))
    return out
