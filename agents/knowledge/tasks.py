"""Celery tasks of the knowledge base. Callers enqueue with agents.knowledge.tasks.index_later."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction

from agents.knowledge.indexing import document_index


@shared_task(ignore_result=True, acks_late=True, autoretry_for=(ConnectionError,), max_retries=3)
def index_document(document_id: int) -> str:
    return document_index(document_id=document_id)


def index_later(document_ids: list[int], *, now: bool = False) -> None:
    """Index these documents in a worker once the transaction commits.

    Eager (the embedded default), or `now`: now, in this transaction, so that the
    caller (an import, a test) finds the document searchable when it returns.
    """
    if not document_ids:
        return
    if now or settings.CELERY_TASK_ALWAYS_EAGER:
        for document_id in document_ids:
            index_document.apply(args=(document_id,), throw=True)
        return
    ids = list(document_ids)
    transaction.on_commit(lambda: [index_document.delay(document_id) for document_id in ids])
