"""The demo's topic for reporting another player (agents/demo_brain.py).

"how do I report a cheater" was read as a bug report (its "report"), and the bot
asked for the player's device and server under the help center's answer on
reporting a player. Only a brain with the demo's bug_report and no report_player
of its own gets it, before the human handoff's place.
"""

from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    from agents.demo_brain import INTENTS

    Intent = apps.get_model("agents", "Intent")
    if not Intent.objects.filter(name="bug_report").exists() or Intent.objects.filter(name="report_player").exists():
        return
    name, label_en, label_zh, action, _tool, _needs, description, examples = next(
        row for row in INTENTS if row[0] == "report_player"
    )
    human = Intent.objects.filter(name="human").first()
    if human is not None:
        position = human.position
        Intent.objects.filter(position__gte=position).update(position=F("position") + 1)
    else:
        position = (Intent.objects.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    Intent.objects.create(
        name=name,
        label_en=label_en,
        label_zh=label_zh,
        action=action,
        description=description,
        examples="\n".join(line.strip() for line in examples.strip().splitlines()),
        position=position,
    )


def backwards(apps, schema_editor):
    Intent = apps.get_model("agents", "Intent")
    reporting = Intent.objects.filter(name="report_player").first()
    if reporting is not None:
        reporting.delete()
        Intent.objects.filter(position__gt=reporting.position).update(position=F("position") - 1)


class Migration(migrations.Migration):
    dependencies = [("agents", "0011_impersonation_examples")]

    operations = [migrations.RunPython(forwards, backwards)]
