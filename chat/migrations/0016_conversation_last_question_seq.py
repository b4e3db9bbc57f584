"""Conversation.last_question_seq: the player's newest message's seq, which the answer's end reads
to know whether a question waited for it (a note for staff after the answer is not one)."""

from django.db import migrations, models


def from_last_seq(apps, schema_editor):
    # Every open chat's newest line counts as a question: an answer streaming as this runs then
    # looks for one that waited, as it did before, and none is left waiting. A closed chat gets no
    # answer again (a message to it opens a new chat): its rows are not rewritten.
    Conversation = apps.get_model("chat", "Conversation")
    Conversation.objects.exclude(state="closed").update(last_question_seq=models.F("last_seq"))


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0015_answer_claim_by_seq"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="last_question_seq",
            field=models.PositiveIntegerField(
                default=0, editable=False, verbose_name="last question's sequence number"
            ),
        ),
        migrations.RunPython(from_last_seq, migrations.RunPython.noop, elidable=True),
    ]
