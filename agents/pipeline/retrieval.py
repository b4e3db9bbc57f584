"""Step 2: the knowledge-base passages for the question."""

from __future__ import annotations

from agents.knowledge.retrieval import asearch
from agents.pipeline.context import Context
from agents.providers import Passage


async def passages_for(context: Context) -> list[Passage]:
    if not context.question.strip():
        return []
    return await asearch(context.question, language=context.language)
