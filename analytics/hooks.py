"""What the rest of csbot calls when something analytics counts happens.

- chat, when a conversation closes:      on_conversation_closed(conversation_id)
- chat, when the player rates the chat:  csat_record(conversation_id=..., score=1..5, comment="")
                                          (raises CsatError for a bad score)
- agents, when retrieval finds nothing:  on_knowledge_gap(question, conversation_id, language)
                                          (or knowledge_gap_record(...) to group it right away;
                                          on the event loop, collect_knowledge_gap(...): no I/O,
                                          sent in batches, analytics/gap_batch.py)
- the staff socket, on connect:          active_alert_frames() -> frames of the alerts already active
                                          (new ones arrive through the group `staff.alerts`)

All are synchronous: from async code wrap them in database_sync_to_async
(collect_knowledge_gap excepted: call it on the loop as it is).
Per-message sentiment and intent are read from Message.meta["sentiment"] (a
number in [-1, 1], or {"score": n}) and Message.meta["intent"] (a name, or
{"name": ...}); see docs/metrics.md.
"""

from analytics.gap_batch import collect as collect_knowledge_gap
from analytics.services.alerts import active_alert_frames
from analytics.services.csat import CsatError, csat_record
from analytics.services.gaps import knowledge_gap_record
from analytics.tasks import on_conversation_closed, on_knowledge_gap

__all__ = [
    "CsatError",
    "active_alert_frames",
    "collect_knowledge_gap",
    "csat_record",
    "knowledge_gap_record",
    "on_conversation_closed",
    "on_knowledge_gap",
]
