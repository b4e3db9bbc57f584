"""The demo's topic for moving a character to another server (agents/demo_brain.py).

"怎么转服" was read as a request for a person (its 转, as in 转人工) and handed to the queue
unanswered, "can I move my character to another server" got the rename FAQ and "可以转服吗"
the one on selling accounts; the topic finds the FAQ on server transfers. It comes before
the human handoff's place, and only a brain with the demo's bug_report gets it, and only
one without a server_transfer topic of its own.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from agents.demo_brain import add_intent

    Intent = apps.get_model("agents", "Intent")
    if Intent.objects.filter(name="bug_report").exists() and not Intent.objects.filter(name="server_transfer").exists():
        add_intent(Intent, "server_transfer")


def backwards(apps, schema_editor):
    from agents.demo_brain import remove_intent

    remove_intent(apps.get_model("agents", "Intent"), "server_transfer")


class Migration(migrations.Migration):
    dependencies = [("agents", "0017_server_numbers")]

    operations = [migrations.RunPython(forwards, backwards)]
