"""The demo's item fact finds the item a player names ("I lost my Frostfang Sword").

Migration 0003 seeded it without an extract pattern, so the bot asked "Which item is
missing?" of a player who had just said, and took any reply to that question, "ok"
and "my gear" too, for the item. Only a fact still as 0003 left it is changed: a
manager's edit in the admin stays.
"""

from django.db import migrations

SEEDED_PATTERN = r".{1,60}"


def forwards(apps, schema_editor):
    from agents.demo_brain import FACTS

    Fact = apps.get_model("agents", "Fact")
    row = next(row for row in FACTS if row["name"] == "item_name")
    seeded = Fact.objects.filter(name="item_name", pattern=SEEDED_PATTERN, extract_pattern="")
    seeded.update(pattern=row["pattern"], extract_pattern=row["extract_pattern"])


class Migration(migrations.Migration):
    dependencies = [("agents", "0007_order_no_formats")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
