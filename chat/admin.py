"""Django admin for chats: look things up, follow a conversation live, export it.

The admin reads; conversations change state only through chat/handoff.py (the
audit trail and the live sockets depend on it), so their fields are read-only here.
Staff read words, not codes (chat/admin_words.py); the raw values are kept, read-only,
in a collapsed "Raw data" section of each page.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format, time_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from chat import admin_words
from chat.models import AgentProfile, Conversation, ConversationEvent, Message, Player
from chat.roles import display_name, is_manager
from chat.staff_selectors import conversation_export, conversations_csv


def _staff_name(user) -> str:
    """A colleague as the dashboard names them (the first name), with the username to find them by."""
    if user is None:
        return "-"
    name, username = display_name(user), user.get_username()
    return name if name == username else f"{name} ({username})"


def _whole_words(*words: str) -> str:
    """Words a narrow column may break between, never inside (admin_lists.css): not "#1 visitor-d3b2ac2a"
    at its hyphen, nor "5:12 p.m." before "p.m."."""
    return format_html_join(" ", '<span class="keep-whole">{}</span>', ((w,) for w in words))


def _chat_words(conversation: Conversation) -> str:
    """A chat as staff name it: its number and its player."""
    return _whole_words(*f"#{conversation.pk} {conversation.player}".split())


def _short_time(value) -> str:
    """A list's time, short ("12/07/2026 5:12 p.m."), its date and its time each kept whole."""
    value = localtime(value)
    return _whole_words(date_format(value, "SHORT_DATE_FORMAT"), time_format(value, "TIME_FORMAT"))


class StaffNames:
    """The staff on a chat, an event or a message, named as on the dashboard, not by username."""

    @admin.display(description=Message._meta.get_field("author").verbose_name, ordering="author__first_name")
    def author_name(self, obj: Message) -> str:
        return _staff_name(obj.author)

    @admin.display(description=Conversation._meta.get_field("assignee").verbose_name, ordering="assignee__first_name")
    def assignee_name(self, obj: Conversation) -> str:
        return _staff_name(obj.assignee)

    @admin.display(description=ConversationEvent._meta.get_field("actor").verbose_name, ordering="actor__first_name")
    def actor_name(self, obj: ConversationEvent) -> str:
        return _staff_name(obj.actor)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class MessageInline(StaffNames, ReadOnlyInline):
    model = Message
    fields = ("seq", "created_at", "sender", "author_name", "text", "status", "internal")
    readonly_fields = fields
    ordering = ("seq",)


def _raw(value) -> str:
    """A stored JSON value as it is, indented: for the "Raw data" sections."""
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


def _rows(rows: list[tuple[str, str]]) -> str:
    """(what, words) pairs as a definition list; "-", as the admin shows an empty value, for none."""
    if not rows:
        return "-"
    return format_html("<dl>{}</dl>", format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))


class ReasonFilter(admin.SimpleListFilter):
    """The handoff reasons the rows have, in words."""

    title = _("handoff reason")
    parameter_name = field = "handoff_reason"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        codes = model_admin.get_queryset(request).exclude(**{self.field: ""}).values_list(self.field, flat=True)
        return [(code, admin_words.reason_words(code)) for code in sorted(set(codes.order_by()))]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class EventReasonFilter(ReasonFilter):
    title = _("reason")
    parameter_name = field = "reason"


class EventWords:
    """An event's reason and details in words (the inline and the events' own pages)."""

    @admin.display(description=_("reason"))
    def reason_in_words(self, obj: ConversationEvent) -> str:
        return admin_words.reason_words(obj.reason) or "-"

    @admin.display(description=_("details"))
    def details(self, obj: ConversationEvent) -> str:
        return admin_words.event_details(obj.data) or "-"


class LanguageWords:
    """A chat's or a player's language by its name, as the reader says it ("英语"), not "en"."""

    @admin.display(description=_("language"), ordering="language")
    def language_in_words(self, obj: Conversation | Player) -> str:
        return admin_words.language_words(obj.language) or "-"


class EventInline(StaffNames, EventWords, ReadOnlyInline):
    model = ConversationEvent
    fields = ("created_at", "kind", "actor_name", "reason_in_words", "details")
    readonly_fields = fields


def _may_export(request: HttpRequest) -> bool:
    return is_manager(request.user) or request.user.has_perm("chat.export_conversation")


@admin.register(Conversation)
class ConversationAdmin(StaffNames, LanguageWords, admin.ModelAdmin):
    # At 1280 px the admin's menu and filters leave the list ~630 px, and eight columns ran
    # past it: "Updated at", which staff sort by, and the live view's link were cut off at the
    # screen's edge. The number and the player are one column (the chat, its link), the holder
    # goes under the state, and the time is short (chat/static/chat/admin_lists.css).
    list_display = (
        "chat",
        "state_and_holder",
        "handoff_reason_in_words",
        "intent_in_words",
        "updated",
        "live_view",
    )
    list_display_links = ("chat",)
    list_filter = ("state", ReasonFilter, "created_at")
    search_fields = (
        "=id",
        "player__game_player_id",
        "player__display_name",
        "=player__public_id",
        "messages__text",
    )
    list_select_related = ("player", "assignee")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "player",
                    "state",
                    "assignee_name",
                    "handoff_reason_in_words",
                    "waiting_since",
                    "intent_in_words",
                    "facts_in_words",
                    "sentiment",
                    "language_in_words",
                    "created_at",
                    "updated_at",
                    "closed_at",
                    "live_view",
                )
            },
        ),
        (
            _("Raw data"),
            {"classes": ("collapse",), "fields": ("intent", "raw_facts", "handoff_reason", "language", "last_seq")},
        ),
    )
    readonly_fields = [name for _name, fieldset in fieldsets for name in fieldset["fields"]]
    inlines = (EventInline, MessageInline)
    actions = ("export_json", "export_csv")
    date_hierarchy = "created_at"

    class Media:
        css = {"all": ("chat/admin_lists.css",)}

    @admin.display(description=_("conversation"), ordering="pk")
    def chat(self, obj: Conversation) -> str:
        return _chat_words(obj)

    @admin.display(description=Conversation._meta.get_field("state").verbose_name, ordering="state")
    def state_and_holder(self, obj: Conversation) -> str:
        """ "with a human", and under it who holds the chat."""
        if obj.assignee_id is None:
            return obj.get_state_display()
        holder = _staff_name(obj.assignee)
        return format_html('{}<br><span class="list-quiet">{}</span>', obj.get_state_display(), holder)

    @admin.display(description=Conversation._meta.get_field("updated_at").verbose_name, ordering="updated_at")
    def updated(self, obj: Conversation) -> str:
        return _short_time(obj.updated_at)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        """Each row's intent with its label in the reader's language, in the same query."""
        from agents.models import Intent

        column = Intent.label_field(translation.get_language() or settings.LANGUAGE_CODE)
        label = Intent.objects.filter(name=OuterRef("intent")).values(column)[:1]
        return super().get_queryset(request).annotate(intent_label=Subquery(label))

    @admin.display(description=_("intent"), ordering="intent")
    def intent_in_words(self, obj: Conversation) -> str:
        return getattr(obj, "intent_label", None) or obj.intent or "-"

    @admin.display(description=_("handoff reason"), ordering="handoff_reason")
    def handoff_reason_in_words(self, obj: Conversation) -> str:
        return admin_words.reason_words(obj.handoff_reason) or "-"

    @admin.display(description=_("facts"))
    def facts_in_words(self, obj: Conversation) -> str:
        return _rows(admin_words.facts_in_words(obj.facts or {}))

    @admin.display(description=_("facts"))
    def raw_facts(self, obj: Conversation) -> str:
        return _raw(obj.facts)

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


# What the messages list shows of a text: enough to tell messages apart; the whole text is
# its tooltip and, a click away, on the message's own page.
LIST_TEXT_CHARS = 160


@admin.register(Message)
class MessageAdmin(StaffNames, admin.ModelAdmin):
    # At 1280 px the admin's menu and filters leave the list ~630 px, where eight columns left
    # the text ~75 px: answers wrapped a word a line. The text takes the width now; the other
    # columns keep to one line (chat/static/chat/admin_lists.css): the author and "internal"
    # join the sender, the time is short, the number in the chat is on the message's page
    # (the list stays in that order), and the text, not the chat's name, opens the message.
    list_display = ("chat", "sender_and_author", "short_text", "status", "sent_at")
    list_display_links = ("short_text",)
    list_filter = ("sender", "status", "internal", "created_at")
    search_fields = ("text", "conversation__player__game_player_id", "=conversation__id")
    list_select_related = ("conversation__player", "author")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "conversation",
                    "seq",
                    "sender",
                    "author_name",
                    "text",
                    "status",
                    "internal",
                    "error",
                    "reply_to",
                    "created_at",
                    "finished_at",
                )
            },
        ),
        (_("What was understood"), {"fields": ("understood",)}),
        (_("Timing and usage"), {"fields": ("ttft_ms", "duration_ms", "prompt_tokens", "completion_tokens")}),
        (_("Raw data"), {"classes": ("collapse",), "fields": ("id", "client_id", "raw_meta")}),
    )
    readonly_fields = [name for _name, fieldset in fieldsets for name in fieldset["fields"]]

    @admin.display(description=_("what was understood"))
    def understood(self, obj: Message) -> str:
        return _rows(admin_words.understood(obj.meta or {}))

    @admin.display(description=_("meta"))
    def raw_meta(self, obj: Message) -> str:
        return _raw(obj.meta)

    class Media:
        css = {"all": ("chat/admin_lists.css",)}

    @admin.display(description=Message._meta.get_field("conversation").verbose_name, ordering="conversation")
    def chat(self, obj: Message) -> str:
        """The chat by its number and player, a link to it; its state now says nothing of this message."""
        url = reverse("admin:chat_conversation_change", args=[obj.conversation_id])
        return format_html('<a href="{}">{}</a>', url, _chat_words(obj.conversation))

    @admin.display(description=Message._meta.get_field("sender").verbose_name, ordering="sender")
    def sender_and_author(self, obj: Message) -> str:
        """ "player", "bot", or the colleague who wrote it ("Alice (agent)"); "internal" when players never saw it."""
        sender = _staff_name(obj.author) if obj.author_id else obj.get_sender_display()
        if not obj.internal:
            return sender
        return format_html('{}<br><span class="list-quiet">{}</span>', sender, _("internal"))

    @admin.display(description=Message._meta.get_field("created_at").verbose_name, ordering="created_at")
    def sent_at(self, obj: Message) -> str:
        return date_format(localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("text"))
    def short_text(self, obj: Message) -> str:
        shown = obj.text if len(obj.text) <= LIST_TEXT_CHARS else obj.text[:LIST_TEXT_CHARS] + "…"
        return format_html('<span class="message-text" title="{}">{}</span>', obj.text, shown or "-")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Player)
class PlayerAdmin(LanguageWords, admin.ModelAdmin):
    list_display = ("name", "game_player_id", "display_name", "language_in_words", "created_at", "last_seen_at")
    search_fields = ("game_player_id", "display_name", "=public_id")
    readonly_fields = ("public_id", "game_player_id", "created_at", "last_seen_at")

    @admin.display(description=_("player"))
    def name(self, obj: Player) -> str:
        """The name staff know the player by, as the dashboard shows it (`Player.label`)."""
        return obj.label

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ConversationEvent)
class ConversationEventAdmin(StaffNames, EventWords, admin.ModelAdmin):
    list_display = ("created_at", "conversation", "kind", "actor_name", "reason_in_words", "details")
    list_filter = ("kind", EventReasonFilter, "created_at")
    search_fields = ("=conversation__id", "actor__username", "reason")
    list_select_related = ("conversation__player", "actor")
    fieldsets = (
        (None, {"fields": ("conversation", "kind", "actor_name", "reason_in_words", "details", "created_at")}),
        (_("Raw data"), {"classes": ("collapse",), "fields": ("id", "reason", "raw_data")}),
    )
    readonly_fields = [name for _name, fieldset in fieldsets for name in fieldset["fields"]]

    @admin.display(description=_("data"))
    def raw_data(self, obj: ConversationEvent) -> str:
        return _raw(obj.data)

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
