"""The staff dashboard page and the managers' export. The live parts run over
the staff socket (chat/staff_consumer.py)."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chat.handoff import REASON_LABELS
from chat.models import Conversation, ConversationEvent
from chat.roles import display_name, is_manager, staff_required
from chat.staff_selectors import conversation_export


def case_labels() -> dict[str, str]:
    """The words for the codes the staff socket sends (handoff reasons, history events), in
    the page's language: frames carry codes, as several dashboards of different languages
    read the same frame."""
    labels = {f"reason_{code}": str(label) for code, label in REASON_LABELS.items()}
    labels.update({f"event_{kind.value}": str(kind.label) for kind in ConversationEvent.Kind})
    return labels


@require_GET
@staff_required
def dashboard(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    if conversation_id is not None and not Conversation.objects.filter(pk=conversation_id).exists():
        raise Http404("no such conversation")
    context = {
        "ws_path": "/ws/staff/",
        "max_chars": settings.CHAT_MAX_MESSAGE_CHARS,
        "open_conversation": conversation_id or "",
        "me_name": display_name(request.user),
        "is_manager": is_manager(request.user),
        "case_labels": case_labels(),
    }
    return render(request, "chat/staff.html", context)


@require_GET
@staff_required
def export(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The whole conversation as JSON: managers only."""
    if not is_manager(request.user):
        raise PermissionDenied
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise Http404("no such conversation")
    body = json.dumps(conversation_export(conversation), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="conversation-{conversation_id}.json"'
    return response
