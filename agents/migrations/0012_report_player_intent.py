"""The demo's topic for reporting another player (agents/demo_brain.py).

"how do I report a cheater" was read as a bug report (its "report"), and the bot
asked for the player's device and server under the help center's answer on
reporting a player. Only a brain with the demo's bug_report and no report_player
of its own gets it, before the human handoff's place.
"""

from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    from agents.demo_brain import add_intent

    Intent = apps.get_model("agents", "Intent")
    if not Intent.objects.filter(name="bug_report").exists() or Intent.objects.filter(name="report_player").exists():
        return
    add_intent(Intent, "report_player")


def backwards(apps, schema_editor):
    Intent = apps.get_model("agents", "Intent")
    reporting = Intent.objects.filter(name="report_player").first()
    if reporting is not None:
        reporting.delete()
        Intent.objects.filter(position__gt=reporting.position).update(position=F("position") - 1)


class Migration(migrations.Migration):
    dependencies = [("agents", "0011_impersonation_examples")]

    operations = [migrations.RunPython(forwards, backwards)]
