"""Admin: what managers may want to look up by hand. Everything here is computed,
so the lists are read-only apart from deleting a knowledge-gap group once fixed."""

from django.contrib import admin

from analytics.models import Alert, CsatRating, GapCluster, KnowledgeGap


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnly):
    list_display = ("raised_at", "kind", "key", "state", "description", "cleared_at")
    list_filter = ("state", "kind")
    date_hierarchy = "raised_at"


@admin.register(CsatRating)
class CsatRatingAdmin(ReadOnly):
    list_display = ("conversation", "score", "comment", "created_at")
    list_filter = ("score",)
    search_fields = ("comment",)
    raw_id_fields = ("conversation",)


class KnowledgeGapInline(admin.TabularInline):
    model = KnowledgeGap
    fields = ("created_at", "question", "language", "conversation")
    readonly_fields = fields
    raw_id_fields = ("conversation",)
    extra = 0
    can_delete = False
    max_num = 0
    ordering = ("-created_at",)


@admin.register(GapCluster)
class GapClusterAdmin(ReadOnly):
    list_display = ("label", "question_count", "language", "last_seen")
    search_fields = ("label",)
    inlines = [KnowledgeGapInline]

    def has_delete_permission(self, request, obj=None):
        return True
