"""The demo knowledge base a test gets by copy (tests/demo_knowledge.py) is the one
`demo_setup` imports: the same articles, chunks, terms and embeddings, all searchable."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from agents.models import KnowledgeChunk, KnowledgeDocument
from tests.demo_knowledge import load_demo_data

pytestmark = pytest.mark.django_db(transaction=True)


def knowledge() -> list[tuple]:
    """Each article with its chunks, by source, without ids and times."""
    return sorted(
        (
            document.source_key,
            document.title,
            document.language,
            document.body,
            document.checksum,
            document.index_status,
            document.indexed_at is not None,
            [
                (chunk.ordinal, chunk.text, chunk.terms, bytes(chunk.embedding or b""))
                for chunk in KnowledgeChunk.objects.filter(document=document).order_by("ordinal")
            ],
        )
        for document in KnowledgeDocument.objects.all()
    )


def test_a_copied_demo_knowledge_base_is_the_one_demo_setup_imports():
    load_demo_data()  # imported, or copied if an earlier test imported it
    KnowledgeDocument.objects.all().delete()
    load_demo_data()  # copied now
    copied = knowledge()
    users = sorted(usernames())

    KnowledgeDocument.objects.all().delete()
    call_command("demo_setup", "--allow-demo-accounts", verbosity=0)

    assert len(copied) == 52 and all(chunks for *_, chunks in copied)
    assert copied == knowledge()
    assert users == sorted(usernames()) == ["agent", "manager"]


def usernames() -> list[str]:
    return list(User.objects.values_list("username", flat=True))
