"""Step 7: after the answer has streamed: what the player is offered next, and what is recorded.

- quick replies and an inline form go under the answer (docs/protocol.md);
- a question the knowledge base could not answer is recorded as a knowledge gap
  (analytics groups them for the managers);
- a human is called through the answer's meta["escalate"]: the answer job's
  after-answer hook (chat/staff_notify.py) reads it once the answer is stored.
"""

from __future__ import annotations

import logging
import re

from agents.pipeline.context import Context
from agents.pipeline.prompt import Reply

log = logging.getLogger(__name__)


def form_id_for(message_id: int) -> str:
    """A form belongs to the bot message that shows it (chat/services.py finds it again)."""
    return f"facts-{message_id}"


def offers(reply: Reply, *, message_id: int, intent: str) -> dict:
    """Message.meta entries for the quick replies and the form under this answer."""
    meta: dict = {}
    if reply.quick_replies:
        meta["quick_replies"] = reply.quick_replies
    if reply.form_fields:
        meta["form"] = {"form_id": form_id_for(message_id), "intent": intent, "fields": reply.form_fields}
    return meta


# "[2]", "[1][3]", "[1, 2]", and ERNIE's full-width "【2】" or "[1、2]".
_CITATION = re.compile(r"[\[【]\s*(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\s*[\]】]")


def cited_sources(text: str, sources: list[dict]) -> list[dict]:
    """The sources an answer cites ([n], as the prompt asks), or all of them when it cites none.

    An LLM given three passages may answer from one: the player read "Sources: 1. Top-up not
    received 2. Refunds 3. Selling accounts" under an answer about top-ups, and staff and
    analytics counted the other two as used. A model that cites nothing may still have used
    them: those stay.
    """
    numbers = {int(n) for group in _CITATION.findall(text) for n in re.findall(r"\d+", group)}
    cited = [source for source in sources if source.get("n") in numbers]
    return cited or sources


def frames(message_id: int, meta: dict) -> list[dict]:
    """The quick_replies and form frames that follow the answer's `end`."""
    out = []
    if meta.get("quick_replies"):
        out.append({"type": "quick_replies", "id": message_id, "options": meta["quick_replies"]})
    if meta.get("form"):
        form = meta["form"]
        out.append({"type": "form", "id": message_id, "form_id": form["form_id"], "fields": form["fields"]})
    return out


async def record_gap(context: Context) -> None:
    """The knowledge base had nothing for this question: analytics groups it.

    The gap only joins this process's batch (analytics/gap_batch.py): no I/O, no
    thread hop while the answer job runs. Gaps still waiting when the process
    dies are lost; for a statistic, that is acceptable.
    """
    try:
        from analytics.hooks import collect_knowledge_gap
    except ImportError:  # analytics not installed: Message.meta["knowledge_gap"] still says so
        return
    try:
        collect_knowledge_gap(context.question, context.conversation_id, context.language)
    except Exception:  # the answer is more important than the statistic
        log.exception("could not record a knowledge gap for conversation %s", context.conversation_id)
