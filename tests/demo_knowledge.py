"""The demo knowledge base for in-process tests: imported for real once per set of
indexing settings, then copied into each later test's (flushed or rolled back) database.

`kb_import` of the demo files' 52 articles (chunking, jieba, the index) took 0.6-1 s in each
of the hundreds of tests on the demo data; a copy of its rows takes a few milliseconds."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from agents.knowledge import index
from agents.models import KnowledgeChunk, KnowledgeDocument

# What indexing reads (agents/knowledge/tasks.py, embeddings.py): a test that sets any of
# them otherwise gets an import of its own.
INDEXING_SETTINGS = (
    "CELERY_TASK_ALWAYS_EAGER",
    "EMBEDDING_PROVIDER",
    "EMBEDDING_MODEL",
    "EMBEDDING_BASE_URL",
    "EMBEDDING_API_KEY",
    "ERNIE_BASE_URL",
    "ERNIE_API_KEY",
    "ERNIE_SECRET_KEY",
)

_imported: dict[tuple, tuple[list[dict], list[dict]]] = {}


def load_demo_data() -> None:
    """What `demo_setup --allow-demo-accounts` leaves in the database."""
    key = tuple(repr(getattr(settings, name, None)) for name in INDEXING_SETTINGS)
    if key in _imported and not KnowledgeDocument.objects.exists():
        call_command("demo_setup", "--allow-demo-accounts", "--no-kb", verbosity=0)
        _copy(*_imported[key])
        return
    empty = not KnowledgeDocument.objects.exists()
    call_command("demo_setup", "--allow-demo-accounts", verbosity=0)
    if empty:
        _imported[key] = (
            list(KnowledgeDocument.objects.order_by("pk").values()),
            list(KnowledgeChunk.objects.order_by("pk").values()),
        )


def _copy(documents: list[dict], chunks: list[dict]) -> None:
    """The rows as the import stored them, under new ids and times, as a new import's."""
    now = timezone.now()
    stored = KnowledgeDocument.objects.bulk_create(
        KnowledgeDocument(**{**row, "id": None, "indexed_at": now if row["indexed_at"] else None}) for row in documents
    )
    new_id = {row["id"]: document.pk for row, document in zip(documents, stored, strict=True)}
    KnowledgeChunk.objects.bulk_create(
        KnowledgeChunk(**{**row, "id": None, "document_id": new_id[row["document_id"]]}) for row in chunks
    )
    index.invalidate()
