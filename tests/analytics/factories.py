"""Conversations written at chosen times, the way chat/ and agents/ record them."""

from __future__ import annotations

from datetime import datetime, timedelta

from chat.models import Conversation, ConversationEvent, Message, Player


def _set_time(model, pk: int, **times: datetime) -> None:
    # created_at is auto_now_add: the only way to a past time is an update after the insert.
    model.objects.filter(pk=pk).update(**times)


class Chat:
    """A conversation script: every call takes the seconds since the chat started."""

    def __init__(
        self,
        player: Player,
        start: datetime,
        *,
        intent: str = "",
        server: str = "",
        language: str = "zh-hans",
        sentiment: float | None = None,
    ) -> None:
        self.start = start
        self.conversation = Conversation.objects.create(
            player=player,
            intent=intent,
            facts={"server": server} if server else {},
            language=language,
            sentiment=sentiment,
        )
        _set_time(Conversation, self.conversation.pk, created_at=start, updated_at=start)
        self.seq = 0

    @property
    def pk(self) -> int:
        return self.conversation.pk

    def _when(self, at: float) -> datetime:
        return self.start + timedelta(seconds=at)

    def _message(self, at: float, sender: str, **fields) -> Message:
        self.seq += 1
        message = Message.objects.create(conversation=self.conversation, seq=self.seq, sender=sender, **fields)
        _set_time(Message, message.pk, created_at=self._when(at))
        Conversation.objects.filter(pk=self.pk).update(last_seq=self.seq, updated_at=self._when(at))
        return message

    def player(self, at: float, text: str = "你好", *, sentiment: float | None = None) -> Chat:
        meta = {"sentiment": sentiment} if sentiment is not None else {}
        self._message(at, Message.Sender.PLAYER, text=text, meta=meta)
        if sentiment is not None:
            Conversation.objects.filter(pk=self.pk).update(sentiment=sentiment)
        return self

    def bot(
        self,
        at: float,
        *,
        ttft_ms: int | None = 800,
        status: str = Message.Status.DONE,
        prompt_tokens: int = 100,
        completion_tokens: int = 50,
    ) -> Chat:
        self._message(
            at,
            Message.Sender.BOT,
            text="answer" if status != Message.Status.FAILED else "",
            status=status,
            ttft_ms=ttft_ms,
            duration_ms=(ttft_ms or 0) + 1500,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        return self

    def agent(self, at: float, user, text: str = "我来帮您看看") -> Chat:
        self._message(at, Message.Sender.AGENT, text=text, author=user)
        return self

    def note(self, at: float, user, text: str = "internal") -> Chat:
        self._message(at, Message.Sender.AGENT, text=text, author=user, internal=True)
        return self

    def event(self, at: float, kind: str, *, reason: str = "", actor=None) -> Chat:
        event = ConversationEvent.objects.create(conversation=self.conversation, kind=kind, reason=reason, actor=actor)
        _set_time(ConversationEvent, event.pk, created_at=self._when(at))
        return self

    def escalate(self, at: float, reason: str = "player_request") -> Chat:
        Conversation.objects.filter(pk=self.pk).update(
            state=Conversation.State.WAITING, handoff_reason=reason, updated_at=self._when(at)
        )
        return self.event(at, ConversationEvent.Kind.ESCALATED, reason=reason)

    def take_over(self, at: float, user) -> Chat:
        Conversation.objects.filter(pk=self.pk).update(
            state=Conversation.State.HUMAN, assignee=user, updated_at=self._when(at)
        )
        return self.event(at, ConversationEvent.Kind.TAKEN_OVER, actor=user)

    def close(self, at: float, by=None) -> Chat:
        Conversation.objects.filter(pk=self.pk).update(
            state=Conversation.State.CLOSED, closed_at=self._when(at), updated_at=self._when(at)
        )
        return self.event(at, ConversationEvent.Kind.CLOSED, actor=by)
