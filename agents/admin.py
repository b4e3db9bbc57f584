"""The admin for the bot's brain: knowledge documents (with indexing progress), intents, facts, tools."""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from agents import catalogue
from agents.knowledge.importing import Entry
from agents.knowledge.language import detect_language
from agents.knowledge.tasks import index_later
from agents.models import Fact, Intent, KnowledgeDocument, Tool


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "language", "index_status", "chunk_count", "indexed_at", "updated_at"]
    list_filter = ["index_status", "language"]
    search_fields = ["title", "body", "source_key"]
    readonly_fields = [
        "source_key",
        "index_status",
        "indexed_at",
        "index_error",
        "checksum",
        "created_at",
        "updated_at",
    ]
    fields = ["title", "language", "body", *readonly_fields]
    actions = ["reindex"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_chunks=Count("chunks"))

    @admin.display(description=_("chunks"), ordering="_chunks")
    def chunk_count(self, obj: KnowledgeDocument) -> int:
        return obj._chunks

    def save_model(self, request, obj: KnowledgeDocument, form, change: bool) -> None:
        """A document written here is indexed like an imported one: by the indexing task."""
        if not obj.source_key:
            obj.source_key = f"admin:{uuid.uuid4()}"
        if not obj.language:
            obj.language = detect_language(obj.body)
        obj.checksum = Entry(obj.source_key, obj.title, obj.body).checksum
        obj.index_status = KnowledgeDocument.IndexStatus.PENDING
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            index_later([obj.pk])

    @admin.action(description=_("Index again"))
    def reindex(self, request, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        queryset.update(index_status=KnowledgeDocument.IndexStatus.PENDING)
        index_later(ids)
        self.message_user(request, _("%(n)d documents queued for indexing.") % {"n": len(ids)}, messages.SUCCESS)


class _RefreshesTheBrain(admin.ModelAdmin):
    """This process sees a change at once; others within catalogue.CHECK_SECONDS."""

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        catalogue.invalidate()

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        catalogue.invalidate()


@admin.register(Intent)
class IntentAdmin(_RefreshesTheBrain):
    list_display = ["name", "label_en", "label_zh", "action", "tool", "enabled", "position"]
    list_editable = ["enabled", "position"]
    list_filter = ["action", "enabled"]
    search_fields = ["name", "description", "examples"]
    filter_horizontal = ["required_facts"]


@admin.register(Fact)
class FactAdmin(_RefreshesTheBrain):
    list_display = ["name", "label_en", "label_zh", "field_type", "pattern"]
    search_fields = ["name", "label_en", "label_zh"]


@admin.register(Tool)
class ToolAdmin(_RefreshesTheBrain):
    list_display = ["name", "method", "url", "timeout_seconds", "auth_env", "enabled"]
    list_filter = ["enabled", "method"]
