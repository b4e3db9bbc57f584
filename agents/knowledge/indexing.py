"""Indexing one knowledge document: chunks, their index terms and, when configured, embeddings.

Run by the Celery task agents.knowledge.tasks.index_document (inline when
CELERY_TASK_ALWAYS_EAGER, the embedded default). The document's index_status
says how far it got, for the admin: pending → indexing → ready (or failed,
with index_error). Only ready documents take part in retrieval.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from agents.knowledge import embeddings, index
from agents.knowledge.chunking import split_into_chunks
from agents.knowledge.index import stored_terms
from agents.models import KnowledgeChunk, KnowledgeDocument

log = logging.getLogger(__name__)
Status = KnowledgeDocument.IndexStatus


def document_index(*, document_id: int) -> str:
    """Index the document; returns its new index_status. Claims it first: one worker indexes it."""
    claimed = KnowledgeDocument.objects.filter(pk=document_id).exclude(index_status=Status.INDEXING)
    if claimed.update(index_status=Status.INDEXING, index_error="") != 1:
        return "skipped"  # gone, or another worker is on it
    document = KnowledgeDocument.objects.get(pk=document_id)
    try:
        texts = split_into_chunks(document.body)
        vectors = embeddings.embed([f"{document.title}\n{text}" for text in texts]) if embeddings.enabled() else None
    except embeddings.EmbeddingError as exc:
        # Without vectors the document is still found by its words.
        log.warning("document %s indexed without embeddings: %s", document_id, exc)
        vectors, error = None, f"embeddings: {exc}"
    except Exception as exc:
        KnowledgeDocument.objects.filter(pk=document_id).update(index_status=Status.FAILED, index_error=str(exc)[:2000])
        raise
    else:
        error = ""
    with transaction.atomic():
        document.chunks.all().delete()
        KnowledgeChunk.objects.bulk_create(
            KnowledgeChunk(
                document=document,
                ordinal=ordinal,
                text=text,
                terms=stored_terms(document.title, text),
                embedding=embeddings.to_bytes(vectors[ordinal]) if vectors else None,
            )
            for ordinal, text in enumerate(texts)
        )
        KnowledgeDocument.objects.filter(pk=document_id).update(
            index_status=Status.READY, indexed_at=timezone.now(), index_error=error
        )
    index.invalidate()
    return Status.READY
