"""Finding the knowledge-base passages that answer a player's question.

An answer built on an unrelated passage is worse than "I don't know", so a
passage must clear two bars besides ranking in the top k:
- it contains at least MIN_COVERAGE of the question's weight (the idf of its
  words, title words counting more than body words), so "recommend me a good
  pasta recipe" finds nothing although one article says "(recommended)". On the
  demo knowledge base the player questions of tests/agents/retrieval_questions.py
  reach 0.32 or more and the unrelated ones at most 0.26;
- it scores at least MIN_RELATIVE_SCORE of the best passage, so the second and
  third sources are really about the question too.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from agents.knowledge import index, tokenize
from agents.providers.base import Passage

MIN_COVERAGE = 0.3
MIN_RELATIVE_SCORE = 0.4


def search(query: str, *, k: int | None = None, language: str | None = None) -> list[Passage]:
    """The passages that answer the query, best first; [] when nothing does.

    Sync: reads the database when the index needs (re)building. With `language`,
    only documents in that language (or of unknown language) are searched.
    """
    k = k or settings.KB_TOP_K
    hits = [hit for hit in index.get_index().search(query, k=k, language=language) if hit.coverage >= MIN_COVERAGE]
    if not hits:
        return []
    floor = hits[0].score * MIN_RELATIVE_SCORE
    return [
        Passage(
            source_id=f"doc-{hit.chunk.document_id}",
            title=hit.chunk.title,
            text=hit.chunk.text,
            score=round(hit.score, 3),
        )
        for hit in hits
        if hit.score >= floor
    ]


async def asearch(query: str, *, k: int | None = None, language: str | None = None) -> list[Passage]:
    """`search` from async code: it runs in a worker thread, never on the event loop.

    Not on the single thread-sensitive DB thread either: an index build can take
    a second or two, and every socket of the process shares that thread.
    """
    return await sync_to_async(_search_in_worker, thread_sensitive=False)(query, k=k, language=language)


def _search_in_worker(query: str, *, k: int | None, language: str | None) -> list[Passage]:
    # Worker threads outlive requests: drop connections that went stale meanwhile,
    # as channels' database_sync_to_async does.
    close_old_connections()
    try:
        return search(query, k=k, language=language)
    finally:
        close_old_connections()


def warm_up() -> None:
    """Load jieba and build the index now, rather than on the first question. Sync."""
    tokenize.warm_up()
    index.get_index()
