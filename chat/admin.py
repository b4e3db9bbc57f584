"""Django admin for chats: look things up, follow a conversation live, export it.

The admin reads; conversations change state only through chat/handoff.py (the
audit trail and the live sockets depend on it), so their fields are read-only here.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from chat.models import AgentProfile, Conversation, ConversationEvent, Message, Player
from chat.roles import is_manager
from chat.staff_selectors import conversation_export, conversations_csv


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ("seq", "created_at", "sender", "author", "text", "status", "internal")
    readonly_fields = fields
    ordering = ("seq",)


class EventInline(ReadOnlyInline):
    model = ConversationEvent
    fields = ("created_at", "kind", "actor", "reason", "data")
    readonly_fields = fields


def _may_export(request: HttpRequest) -> bool:
    return is_manager(request.user) or request.user.has_perm("chat.export_conversation")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "player", "state", "assignee", "handoff_reason", "intent", "updated_at", "live_view")
    list_filter = ("state", "handoff_reason", "created_at")
    search_fields = (
        "=id",
        "player__game_player_id",
        "player__display_name",
        "=player__public_id",
        "messages__text",
    )
    list_select_related = ("player", "assignee")
    readonly_fields = (
        "player",
        "state",
        "assignee",
        "handoff_reason",
        "waiting_since",
        "intent",
        "facts",
        "sentiment",
        "language",
        "last_seq",
        "created_at",
        "updated_at",
        "closed_at",
        "live_view",
    )
    exclude = ()
    inlines = (EventInline, MessageInline)
    actions = ("export_json", "export_csv")
    date_hierarchy = "created_at"

    @admin.display(description=_("live view"))
    def live_view(self, obj: Conversation) -> str:
        return format_html('<a href="{}">{}</a>', reverse("staff:conversation", args=[obj.pk]), _("open live"))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return _may_export(request)

    @admin.action(description=_("Export selected conversations as JSON"), permissions=["export"])
    def export_json(self, request: HttpRequest, queryset) -> HttpResponse:
        data = [conversation_export(c) for c in queryset.order_by("pk")]
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="conversations.json"'
        return response

    @admin.action(description=_("Export selected conversations as CSV"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        response = HttpResponse(conversations_csv(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="conversations.csv"'
        return response


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("conversation", "seq", "sender", "author", "short_text", "status", "internal", "created_at")
    list_filter = ("sender", "status", "internal", "created_at")
    search_fields = ("text", "conversation__player__game_player_id", "=conversation__id")
    list_select_related = ("conversation__player", "author")
    readonly_fields = [f.name for f in Message._meta.fields]

    @admin.display(description=_("text"))
    def short_text(self, obj: Message) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:80] + "…"

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ("label", "game_player_id", "display_name", "language", "created_at", "last_seen_at")
    search_fields = ("game_player_id", "display_name", "=public_id")
    readonly_fields = ("public_id", "game_player_id", "created_at", "last_seen_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ConversationEvent)
class ConversationEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "conversation", "kind", "actor", "reason")
    list_filter = ("kind", "reason", "created_at")
    search_fields = ("=conversation__id", "actor__username", "reason")
    list_select_related = ("conversation__player", "actor")
    readonly_fields = [f.name for f in ConversationEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "status", "max_chats", "sockets", "last_seen")
    list_filter = ("status",)
    list_editable = ("max_chats",)
    search_fields = ("user__username", "user__first_name")
    readonly_fields = ("sockets", "last_seen")
