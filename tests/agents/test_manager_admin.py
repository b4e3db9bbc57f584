"""A manager keeps the bot's brain in the admin: the "Bot brain" section, and a knowledge
document they open, edit and save (indexed again). Agents still only read chats."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User

from agents.models import KnowledgeDocument

pytestmark = pytest.mark.django_db

permissions = importlib.import_module("agents.migrations.0006_manager_permissions")


@pytest.fixture
def roles(db) -> None:
    """The groups and their admin permissions, as the migrations make them (a flush drops them)."""
    importlib.import_module("chat.migrations.0005_staff_permissions").grant(apps, None)
    permissions.grant(apps, None)


def staff(username: str, group: str) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def document(db) -> KnowledgeDocument:
    return KnowledgeDocument.objects.create(
        title="Refunds", language="en", body="Refunds take 3 days.", source_key="kb:refunds", checksum="x"
    )


def test_a_manager_sees_the_bot_brain_in_the_admin(roles, client):
    client.force_login(staff("mia", "manager"))
    index = client.get("/admin/").content.decode()

    assert "Bot brain" in index
    for path in ("knowledgedocument", "intent", "fact", "tool"):
        assert f'href="/admin/agents/{path}/"' in index


def test_a_manager_opens_and_edits_a_knowledge_document(roles, client, document):
    client.force_login(staff("mia", "manager"))
    page = client.get(f"/admin/agents/knowledgedocument/{document.pk}/change/")
    assert page.status_code == 200 and "Refunds take 3 days." in page.content.decode()

    saved = client.post(
        f"/admin/agents/knowledgedocument/{document.pk}/change/",
        {"title": "Refunds", "language": "en", "body": "Refunds take 5 working days."},
    )

    assert saved.status_code == 302, saved.content[:500]
    document.refresh_from_db()
    assert document.body == "Refunds take 5 working days." and document.index_status == "ready"


def test_an_agent_cannot_edit_the_bot_brain(roles, client, document):
    client.force_login(staff("alice", "agent"))

    assert "Bot brain" not in client.get("/admin/").content.decode()
    assert client.get(f"/admin/agents/knowledgedocument/{document.pk}/change/").status_code == 403


def test_the_permissions_migration_can_be_undone(roles):
    manager = Group.objects.get(name="manager")
    permissions.revoke(apps, None)
    assert not manager.permissions.filter(content_type__app_label="agents").exists()
    assert manager.permissions.filter(codename="view_conversation").exists()  # the chat ones stay

    permissions.grant(apps, None)
    assert manager.permissions.filter(codename="change_knowledgedocument").exists()
