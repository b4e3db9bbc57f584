"""The demo's events learn that a reward that did not arrive is theirs, not a top-up's.

"event reward not received" shares "not received" with the top-up examples' "recharge not
received" and nothing but "reward" with the events' own ("didn't get my festival reward"),
so it was read as a missing top-up and asked for an order number. Only a brain with the
demo's events gets the examples, once; a manager's own stay as they are.
"""

from django.db import migrations

ADDED = ["event reward not received", "活动奖励没到账", "leaderboard reward didn't arrive", "排行榜奖励没发"]


def forwards(apps, schema_editor):
    from agents.demo_brain import add_examples

    add_examples(apps.get_model("agents", "Intent"), "events", ADDED)


def backwards(apps, schema_editor):
    from agents.demo_brain import remove_examples

    remove_examples(apps.get_model("agents", "Intent"), "events", ADDED)


class Migration(migrations.Migration):
    dependencies = [("agents", "0015_rename_intent")]

    operations = [migrations.RunPython(forwards, backwards)]
