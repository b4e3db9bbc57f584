"""Step 2b: how the player feels, scored offline (agents/sentiment.py) for every message.

Cheap (a lexicon lookup); it runs with the other steps in the pipeline's worker thread. The score goes with the
player's message and the bot's answer (analytics reads both), and decides
whether the bot soothes the player or calls a human.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.pipeline.context import Context
from agents.sentiment import Sentiment, escalation_threshold, score_text, should_escalate


@dataclass(frozen=True)
class Mood:
    current: Sentiment
    escalate: bool

    @property
    def upset(self) -> bool:
        return self.current.level != "calm"

    @property
    def strong(self) -> bool:
        """Very frustrated, though not a case for staff yet: the bot's apology says so."""
        return self.current.score <= escalation_threshold()

    def as_meta(self) -> dict:
        return {**self.current.as_meta(), "escalate": self.escalate}


def assess(context: Context) -> Mood:
    current = score_text(context.question)
    return Mood(current, should_escalate(current, context.earlier_sentiments))
