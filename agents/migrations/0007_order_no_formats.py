"""The demo's order-number fact accepts the formats the help article names.

Migration 0003 seeded it with SL… numbers only, while demo_kb/recharge.*.md tells players
their order number may be Google Play's GPA.…, Apple's order ID or the web shop's SF-…;
and its placeholder was a real demo order. Only a fact still as 0003 left it is changed:
a manager's edit in the admin stays.
"""

from django.db import migrations

SEEDED_PATTERN = r"SL\d{10}"


def forwards(apps, schema_editor):
    from agents.demo_brain import FACTS

    Fact = apps.get_model("agents", "Fact")
    row = next(row for row in FACTS if row["name"] == "order_no")
    fields = ("question_en", "question_zh", "pattern", "extract_pattern", "placeholder")
    Fact.objects.filter(name="order_no", pattern=SEEDED_PATTERN).update(**{f: row[f] for f in fields})


class Migration(migrations.Migration):
    dependencies = [("agents", "0006_manager_permissions")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
