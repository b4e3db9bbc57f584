"""Managers add knowledge in the admin; the indexing task makes it searchable and shows progress."""

from __future__ import annotations

import pytest

from agents.knowledge import index
from agents.knowledge.retrieval import search
from agents.knowledge.tasks import index_later
from agents.models import KnowledgeDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(django_user_model):
    return django_user_model.objects.create_superuser("mia", "mia@example.com", "pw-mia-2026")


def test_a_document_added_in_the_admin_is_indexed_and_found(client, manager):
    client.force_login(manager)
    response = client.post(
        "/admin/agents/knowledgedocument/add/",
        {"title": "Frostfire Gala", "language": "en", "body": "The Frostfire Gala lasts two weeks in December."},
    )
    assert response.status_code == 302, response.content[:500]

    document = KnowledgeDocument.objects.get(title="Frostfire Gala")
    assert document.index_status == "ready" and document.chunks.count() == 1
    index.invalidate()
    assert [p.title for p in search("how long is the frostfire gala")] == ["Frostfire Gala"]

    listing = client.get("/admin/agents/knowledgedocument/")
    assert b"Frostfire Gala" in listing.content and b"ready" in listing.content


def test_outside_eager_mode_indexing_waits_for_the_commit(settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    document = KnowledgeDocument.objects.create(title="T", body="Body text.", source_key="k", checksum="x")

    with django_capture_on_commit_callbacks() as callbacks:
        index_later([document.pk])

    assert len(callbacks) == 1  # the task is sent to the broker only once the rows exist
    document.refresh_from_db()
    assert document.index_status == "pending"
