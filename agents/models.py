"""What the bot knows: the knowledge base it answers from."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# --- Knowledge base -------------------------------------------------------------


class KnowledgeDocument(models.Model):
    """One article or FAQ entry, written by support staff and imported from a file."""

    class Language(models.TextChoices):
        CHINESE = "zh-hans", _("Simplified Chinese")
        ENGLISH = "en", _("English")
        UNKNOWN = "", _("Unknown")

    class IndexStatus(models.TextChoices):
        PENDING = "pending", _("pending")
        INDEXING = "indexing", _("indexing")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    title = models.CharField(max_length=500)
    language = models.CharField(max_length=10, choices=Language.choices, blank=True, default="")
    # Where the text came from: the file's resolved path, or "<path>#row-<n>" for a
    # spreadsheet row. Importing the same source again updates this row.
    source_key = models.CharField(max_length=1000, unique=True)
    body = models.TextField()
    # sha256 of title, body and chunking version: chunks are rewritten only when it changes.
    checksum = models.CharField(max_length=64)
    # Only documents that are ready take part in retrieval.
    index_status = models.CharField(
        max_length=10, choices=IndexStatus.choices, default=IndexStatus.PENDING, db_index=True
    )
    indexed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("knowledge document")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def source_id(self) -> str:
        """How a passage from this document is cited (Passage.source_id)."""
        return f"doc-{self.pk}"


class KnowledgeChunk(models.Model):
    """A passage of a document, a few hundred characters long: the unit of retrieval."""

    document = models.ForeignKey(KnowledgeDocument, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    # {"version": ..., "title": [...], "text": [...]}: the index terms, made once at
    # import so that building the in-memory index needs no tokenizing (jieba
    # takes some 15 s for 10,000 Chinese chunks). See agents/knowledge/index.py.
    terms = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("knowledge chunk")
        ordering = ["document_id", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="agents_chunk_unique_ordinal"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"
