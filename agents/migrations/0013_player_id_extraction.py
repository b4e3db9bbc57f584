"""The demo's player id fact finds the id in the words players use ("my uid is 55555555").

Migration 0003 seeded a pattern with no "is" ("my uid is 55555555", "my player ID is …"
went unnoticed, and the bot asked for the id just given) that also took the "id" inside
a word for a label ("I paid 648000" gave the player id 648000). Only a fact still as 0003
left it is changed: a manager's edit in the admin stays.
"""

from django.db import migrations

SEEDED_EXTRACT_PATTERN = r"(?:玩家\s*id|角色\s*id|player\s*id|uid|id)\s*(?:是|为|:|：|#)?\s*(\d{5,12})"


def forwards(apps, schema_editor):
    from agents.demo_brain import PLAYER_ID_EXTRACT

    Fact = apps.get_model("agents", "Fact")
    Fact.objects.filter(name="player_id", extract_pattern=SEEDED_EXTRACT_PATTERN).update(
        extract_pattern=PLAYER_ID_EXTRACT
    )


class Migration(migrations.Migration):
    dependencies = [("agents", "0012_report_player_intent")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
