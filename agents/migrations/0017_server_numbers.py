"""The demo's server fact knows "server 2" as S2.

A player asked "Which server do you play on (S1 Dawn, S2 Tide, …)?" who answered "server 2"
was not understood (only "s2", "2服", "tide" were), and got an article their words found
instead; "server 7" is now also told apart as no server of the game (agents/facts.py,
unknown_choice). Only choices still as 0003 seeded them change: a manager's edit stays.
"""

from django.db import migrations

SEEDED = {
    "S1": ["s1", "1服", "一服", "1区", "一区", "晨曦", "dawn"],
    "S2": ["s2", "2服", "二服", "2区", "二区", "潮汐", "tide"],
    "S3": ["s3", "3服", "三服", "3区", "三区", "余烬", "ember"],
    "S4": ["s4", "4服", "四服", "4区", "四区", "霜语", "frost"],
}


def forwards(apps, schema_editor):
    from agents.demo_brain import FACTS

    choices = next(row for row in FACTS if row["name"] == "server")["choices"]
    _replace(apps, SEEDED, choices)


def backwards(apps, schema_editor):
    from agents.demo_brain import FACTS

    _replace(apps, next(row for row in FACTS if row["name"] == "server")["choices"], SEEDED)


def _replace(apps, old: dict, new: dict) -> None:
    Fact = apps.get_model("agents", "Fact")
    for fact in Fact.objects.filter(name="server"):
        if fact.choices == old:
            fact.choices = new
            fact.save(update_fields=["choices"])


class Migration(migrations.Migration):
    dependencies = [("agents", "0016_event_reward_examples")]

    operations = [migrations.RunPython(forwards, backwards)]
