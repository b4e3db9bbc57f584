"""Conversation.answer_claim names its answer by seq, no longer by id: every question's UPDATE
takes the claim for its answer, whose seq it knows and whose id it does not yet."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def claims_by_seq(apps, schema_editor):
    Conversation = apps.get_model("chat", "Conversation")
    Message = apps.get_model("chat", "Message")
    seq = Message.objects.filter(pk=OuterRef("answer_claim")).values("seq")[:1]
    Conversation.objects.filter(answer_claim__isnull=False).update(answer_claim=Subquery(seq))


def claims_by_id(apps, schema_editor):
    Conversation = apps.get_model("chat", "Conversation")
    Message = apps.get_model("chat", "Message")
    pk = Message.objects.filter(conversation_id=OuterRef("pk"), seq=OuterRef("answer_claim")).values("pk")[:1]
    Conversation.objects.filter(answer_claim__isnull=False).update(answer_claim=Subquery(pk))


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0014_sign_in_attempt_address"),
    ]

    operations = [migrations.RunPython(claims_by_seq, claims_by_id, elidable=True)]
