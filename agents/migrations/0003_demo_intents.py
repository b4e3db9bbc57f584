"""The demo's facts, tools and intents (agents/demo_brain.py). Managers edit them in the admin."""

from django.db import migrations


def seed(apps, schema_editor):
    from agents.demo_brain import seed as seed_demo

    seed_demo(apps, schema_editor)


def unseed(apps, schema_editor):
    for model in ("Intent", "Tool", "Fact"):
        apps.get_model("agents", model).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("agents", "0002_intents_facts_tools")]

    operations = [migrations.RunPython(seed, unseed)]
